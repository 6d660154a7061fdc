"""The exit hook, registered as soon as the package is imported, before the pipeline's modules are loaded.

Registered at import, before the application's own exit handlers in most programs: those run first
(``atexit`` runs the last registered first), and what they log is delivered. Records logged by
handlers that run later are written one by one.
"""

from __future__ import annotations

import atexit
import sys


def _shutdown_at_exit() -> None:
    pipeline = sys.modules.get("otel_revops.pipeline")
    if pipeline is not None:  # nothing was configured when the pipeline module was never loaded
        pipeline._shutdown_current()


atexit.register(_shutdown_at_exit)
