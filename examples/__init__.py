"""Runnable examples of otel-revops (``python -m examples.<name>`` from the repository root)."""
