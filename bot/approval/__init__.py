"""The approval gate: who may approve a fix, and the record of approvals."""
