"""The SQL store: approvals, executions and the hash-chained audit trail (SQLite by default, PostgreSQL for
several replicas)."""
