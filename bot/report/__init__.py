"""Render a diagnosis Report for people (terminal), pipelines (SARIF) and programs (JSON)."""
