"""A worker running many executions keeps a bounded footprint and one OpenTelemetry scope.

Each execution logs through ``get_execution_logger(job, execution)``, whose category names the
execution. The category must stay on every record, but nothing may be kept per execution: no
instrumentation scope per execution (cached for ever by the SDK, one scope per execution in Datadog),
no cache entry per execution.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.faults.harness import AppProcess, FigureRecorder, run_to_end
from tests.support.otlp_receiver import OTLPReceiver

WARMUP = 2_000
COUNT = 20_000
#: Growth allowed over COUNT executions: the allocator's own slack, far below one kilobyte each.
MAX_GROWTH = 3 * 1024 * 1024


def test_executions_leave_no_memory_and_one_scope_behind(
    otlp_receiver: OTLPReceiver, tmp_path: Path, figures: FigureRecorder
) -> None:
    """22,000 executions of one record: every record received with its full category, all under the
    static scope ``inngest.execution``; resident memory grows by less than 3 MiB over the last 20,000."""
    app = AppProcess(
        "many_executions.py",
        ["--endpoint", otlp_receiver.grpc_endpoint, "--warmup", str(WARMUP), "--count", str(COUNT)],
        stderr_path=tmp_path / "app.stderr",
    )
    done = run_to_end(app, 280)
    records = otlp_receiver.wait_for_records(WARMUP + COUNT, timeout=60)
    growth = done["rss_after"] - done["rss_before"]
    scopes = Counter(record.scope_name for record in records)
    figures.record(
        "22,000 executions of one record",
        sent=WARMUP + COUNT,
        stored=len(records),
        duplicated=0,
        lost=WARMUP + COUNT - len(records),
        rss_growth_mb=round(growth / 2**20, 2),
        scopes=len(scopes),
    )
    assert len(records) == WARMUP + COUNT
    assert growth <= MAX_GROWTH, f"resident memory grew {growth} bytes over {COUNT} executions"
    assert scopes == Counter({"inngest.execution": WARMUP + COUNT})
    categories = {record.attributes.get("otel_revops.category") for record in records}
    assert categories == {f"inngest.execution.sync-job.exe-{n:07d}" for n in range(WARMUP + COUNT)}


@pytest.mark.soak
def test_a_million_executions_grow_resident_memory_by_under_two_mebibytes(tmp_path: Path, figures: FigureRecorder) -> None:
    """1,000,000 executions of one record, counted in the application: one scope, ≤ 2 MiB growth."""
    count = 1_000_000
    app = AppProcess(
        "many_executions.py", ["--warmup", str(WARMUP), "--count", str(count)], stderr_path=tmp_path / "app.stderr"
    )
    done = run_to_end(app, 3_600)
    growth = done["rss_after"] - done["rss_before"]
    figures.record(
        "1,000,000 executions of one record",
        sent=WARMUP + count,
        stored=done["counted"],
        duplicated=0,
        lost=WARMUP + count - done["counted"],
        rss_growth_mb=round(growth / 2**20, 2),
        scopes=len(done["scopes"]),
    )
    assert done["counted"] == WARMUP + count
    assert done["scopes"] == ["inngest.execution"]
    assert growth <= 2 * 1024 * 1024, f"resident memory grew {growth} bytes over {count} executions"
