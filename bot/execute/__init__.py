"""The executor: re-validate a frozen plan against live state, dry-run it, apply it step by step, verify it,
and undo it. The approval gate calls it; so does `keda-auth apply`."""
