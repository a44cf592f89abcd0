"""Diagnosis: pure checks over a Snapshot, producing findings with evidence and fixes."""
