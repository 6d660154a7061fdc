"""The otel-revops pytest plugin, registered through the ``pytest11`` entry point: the ``capture_logs`` fixture.

::

    def test_sync_logs_its_start(capture_logs):
        run_sync()
        assert capture_logs.messages() == ["Job execution started: incremental sync"]

The fixture captures what the test logs (see :func:`otel_revops.testing.capture_logs`) and puts back
whatever pipeline was configured before the test. Nothing is imported until a test uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from otel_revops.testing import LogCapture

__all__ = ["capture_logs"]


@pytest.fixture(name="capture_logs")
def capture_logs() -> Iterator[LogCapture]:
    """Records exported while the test runs, as plain dicts (see :func:`otel_revops.testing.capture_logs`)."""
    from otel_revops.testing import capture_logs as capturing

    with capturing() as captured:
        yield captured
