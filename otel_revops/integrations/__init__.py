"""Integrations with the frameworks that run jobs.

Each lives in its own module and imports its framework only when that module is imported:
:mod:`otel_revops.integrations.inngest` needs the ``inngest`` extra.
"""

from __future__ import annotations

__all__: list[str] = []
