"""Settings that would break at run time are refused when logging is configured.

Every integer setting has a range; database and collection names, a service name that would lead
out of the spool directory and every MongoDB URI option are checked. Each case raises
``ConfigurationError`` naming the setting, before anything is created or stored — never an exporter
that dies later, or a ``flush`` that returns True while nothing is stored.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.faults.harness import AppProcess, Db, FigureRecorder, create_executions
from tests.support.mongo_server import MongoServer

HUGE = str(10**31)


def _cases(uri: str) -> list[dict[str, object]]:
    """Each case: the variable named in the error first, then what else it needs."""
    integers = [
        "OTEL_REVOPS_EXPORT_DELAY_MS",
        "OTEL_REVOPS_MAX_QUEUE_SIZE",
        "OTEL_REVOPS_EXPORT_BATCH_SIZE",
        "OTEL_REVOPS_SHUTDOWN_TIMEOUT_MS",
        "OTEL_REVOPS_MAX_VALUE_LENGTH",
        "OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT",
        "OTEL_REVOPS_SPOOL_MAX_BYTES",
    ]
    cases: list[dict[str, object]] = [{"case": f"{name}=10^31", "env": {name: HUGE}} for name in integers]
    cases += [
        # The retry deadline had another name before; both are set, the current one is named.
        {"case": "retry deadline 10^31",
         "env": {"OTEL_REVOPS_RETRY_DEADLINE_MS": HUGE, "OTEL_REVOPS_MONGODB_RETRY_DEADLINE_MS": HUGE}},
        {"case": "database $bad", "env": {"OTEL_REVOPS_MONGODB_DATABASE": "$bad"}},
        {"case": "database bad/name", "env": {"OTEL_REVOPS_MONGODB_DATABASE": "bad/name"}},
        {"case": "logs collection $bad", "env": {"OTEL_REVOPS_MONGODB_LOGS_COLLECTION": "$bad"}},
        {"case": "executions collection a..b", "env": {"OTEL_REVOPS_MONGODB_EXECUTIONS_COLLECTION": "a..b"}},
        {"case": "service name ../../escape", "env": {"OTEL_SERVICE_NAME": "../../escape"}},
        {"case": "URI port 99999", "env": {"OTEL_REVOPS_MONGODB_URI": "mongodb://127.0.0.1:99999/"}},
        {"case": "URI serverSelectionTimeoutMS=abc",
         "env": {"OTEL_REVOPS_MONGODB_URI": f"{uri}?serverSelectionTimeoutMS=abc"}},
        {"case": "URI tls=maybe", "env": {"OTEL_REVOPS_MONGODB_URI": f"{uri}?tls=maybe"}},
    ]  # fmt: skip
    return cases


def test_bad_settings_are_refused_at_configure_time(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """16 bad settings: each raises ConfigurationError naming it; nothing stored, nothing outside the spool."""
    (execution,) = create_executions(faults_db, 1)
    spool = tmp_path / "deep" / "down" / "spool"
    cases = _cases(fault_server.uri)
    app = AppProcess(
        "bad_settings.py",
        ["--cases", json.dumps(cases), "--spool-dir", str(spool), "--execution", execution],
        stderr_path=tmp_path / "settings.stderr",
        OTEL_REVOPS_MONGODB_URI=fault_server.uri,
        OTEL_REVOPS_MONGODB_DATABASE="faults",
    )
    try:
        app.finish(180)
    finally:
        app.kill()
    outcomes = {event["case"]: event for event in app.events("case")}
    named = {
        str(case["case"]): outcomes[str(case["case"])].get("raised") == "ConfigurationError"
        and next(iter(dict(case["env"]))) in str(outcomes[str(case["case"])].get("message"))  # type: ignore[call-overload]
        for case in cases
    }
    stored = sum(
        faults_db[name].count_documents({}) for name in faults_db.list_collection_names() if name != "job_executions"
    )
    escaped = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*escape*")]
    figures.record(
        "bad-settings-refused",
        sent=len(cases),
        stored=stored,
        duplicated=0,
        lost=0,
        rss_growth_mb=None,
        refused_naming_the_setting=sum(named.values()),
        accepted=[case for case, ok in named.items() if not ok],
        outside_spool=escaped,
    )
    wrong = {case: outcomes[case] for case, ok in named.items() if not ok}
    assert wrong == {}, f"not refused with a ConfigurationError naming the setting: {json.dumps(wrong)[:2000]}"
    assert stored == 0
    assert escaped == []
