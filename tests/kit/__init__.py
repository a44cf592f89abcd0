"""The project's test kit: cluster states built from real upstream fixtures, written as bundles."""
