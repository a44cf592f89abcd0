"""Shared plumbing of the project's simulators: a threaded HTTP(S) server, fault injection, TLS, schemas."""
