"""``python -m otel_revops``: the ``otel-revops`` command."""

from __future__ import annotations

from otel_revops._command import main

if __name__ == "__main__":
    main()
