"""Bound loggers: keyword properties, bind/child, extra=, the original's helpers and log(level, msg, metadata)."""

from __future__ import annotations

import io
import json
import logging

import pytest

import otel_revops
from otel_revops import get_execution_logger, get_logger, get_sync_logger


@pytest.fixture
def console() -> io.StringIO:
    stream = io.StringIO()
    otel_revops.configure_logging(console="json", console_stream=stream, log_level="debug")
    return stream


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestBoundLogger:
    def test_keyword_properties(self, console: io.StringIO) -> None:
        """log.info(msg, jobId=..., jitterMs=...) puts the keywords in the properties."""
        get_logger("inngest").info("Executing job with jitter", jobId="j1", jitterMs=120)
        (record,) = _records(console)
        assert record["message"] == "Executing job with jitter"
        assert record["properties"] == {"jobId": "j1", "jitterMs": 120}

    def test_bind_and_child_keep_the_parents_properties(self, console: io.StringIO) -> None:
        """bind()/child() add properties; the parent is unchanged."""
        parent = get_logger("c", a=1)
        child = parent.bind(b=2).child(c=3)
        child.info("child")
        parent.info("parent")
        assert [r["properties"] for r in _records(console)] == [{"a": 1, "b": 2, "c": 3}, {"a": 1}]

    def test_callers_extra_is_kept_alongside_bound_properties(self, console: io.StringIO) -> None:
        """Unlike LoggerAdapter, extra= passed on the call is not dropped."""
        get_logger("c", bound=1).info("m", extra={"fromExtra": 2}, kw=3)
        assert _records(console)[0]["properties"] == {"bound": 1, "fromExtra": 2, "kw": 3}

    def test_reserved_record_names_are_allowed_as_properties(self, console: io.StringIO) -> None:
        """Properties named like LogRecord attributes (name, message) do not raise."""
        get_logger("c").info("m", name="contacts", message="x", args=1)
        assert _records(console)[0]["properties"] == {"name": "contacts", "message": "x", "args": 1}

    def test_stdlib_signature(self, console: io.StringIO) -> None:
        """%-args, exc_info, stack_info and every level method work like the stdlib's."""
        log = get_logger("c")
        log.debug("d %s", "x")
        log.warn("w")
        log.critical("c")
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("e")
        log.error("s", stack_info=True)
        records = _records(console)
        assert [r["level"] for r in records] == ["debug", "warning", "critical", "error", "error"]
        assert records[0]["message"] == "d x"
        assert "KeyError: 'k'" in str(records[3]["exception"])
        assert "Stack (most recent call last)" in str(records[4]["exception"])

    def test_stacklevel_points_at_the_caller(self) -> None:
        """funcName/lineno of the record are the caller's, not the wrapper's."""
        seen: list[logging.LogRecord] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record)

        logging.getLogger().addHandler(Keep())
        logging.getLogger().setLevel(logging.INFO)
        get_logger("c").info("here")
        assert seen[0].funcName == "test_stacklevel_points_at_the_caller"
        assert seen[0].filename == "test_loggers.py"

    def test_original_log_level_message_metadata(self, console: io.StringIO) -> None:
        """log("warn", message, metadata) is the original's SyncLogger form."""
        log = get_logger("c")
        log.log("warn", "w", {"jobId": "j"})
        log.log(logging.INFO, "stdlib %s", "form")
        records = _records(console)
        assert (records[0]["level"], records[0]["properties"]) == ("warning", {"jobId": "j"})
        assert records[1]["message"] == "stdlib form"

    def test_levels_filter_before_any_work(self, console: io.StringIO) -> None:
        """A disabled level produces nothing."""
        otel_revops.configure_logging(console="json", console_stream=console, log_level="warning")
        get_logger("c").info("hidden", x=1)
        assert console.getvalue() == ""


class TestOriginalHelpers:
    def test_sync_logger(self, console: io.StringIO) -> None:
        """get_sync_logger() → inngest.sync; with an entity → inngest.sync.<entity> and entity bound."""
        get_sync_logger().info("plain")
        get_sync_logger("contacts").info("Starting chunked sync for entity", jobId="j")
        plain, scoped = _records(console)
        assert (plain["category"], plain["properties"]) == ("inngest.sync", {})
        assert scoped["category"] == "inngest.sync.contacts"
        assert scoped["properties"] == {"entity": "contacts", "jobId": "j"}

    def test_execution_logger(self, console: io.StringIO) -> None:
        """get_execution_logger → inngest.execution.<job>.<exec> with jobId/executionId bound."""
        get_execution_logger("65a4f3b2c1d2e3f4a5b6c7d8", "65a4f3b2c1d2e3f4a5b6c7d9").info(
            "Job execution started: incremental sync", syncMode="incremental"
        )
        (record,) = _records(console)
        assert record["category"] == "inngest.execution.65a4f3b2c1d2e3f4a5b6c7d8.65a4f3b2c1d2e3f4a5b6c7d9"
        assert record["properties"] == {
            "jobId": "65a4f3b2c1d2e3f4a5b6c7d8",
            "executionId": "65a4f3b2c1d2e3f4a5b6c7d9",
            "syncMode": "incremental",
        }

    def test_execution_loggers_are_not_kept_by_the_logging_manager(self, console: io.StringIO) -> None:
        """Many executions do not grow logging's registry of loggers."""
        before = len(logging.Logger.manager.loggerDict)
        for n in range(100):
            get_execution_logger("job", f"exec-{n}").info("x")
        assert len(logging.Logger.manager.loggerDict) <= before + 1
        assert len(_records(console)) == 100

    def test_execution_logger_follows_the_execution_category_level(self, console: io.StringIO) -> None:
        """Per-category levels set for inngest.execution apply to every execution logger."""
        otel_revops.configure_logging(
            console="json", console_stream=console, log_levels={"inngest.execution": "error"}
        )
        get_execution_logger("j", "e").warning("hidden")
        get_execution_logger("j", "e").error("shown")
        assert [r["message"] for r in _records(console)] == ["shown"]


class TestOriginalCallStyles:
    """The TypeScript system's calls, ported literally, keep their data."""

    def test_a_mapping_after_the_message_is_the_properties(self) -> None:
        """``logger.info(message, {...})`` — the original's main form — on a bound and on a stdlib logger:
        the mapping is the record's properties, exported and stored, and the message is kept as written."""
        from otel_revops.testing import capture_logs

        with capture_logs() as captured:
            get_sync_logger().info("Starting chunked sync for entity", {"jobId": "j-9", "entity": "contacts"})
            logging.getLogger("plain").warning("Rate limited", {"retryAfterMs": 250})  # noqa: PLE1205 - the original's call form
            get_logger("b").warning("Rate limited 100% of the time", {"retryAfterMs": 500})
            get_logger("b", bound=1).info("Keywords win", {"bound": 2, "k": "mapping"}, k="keyword")
            records = captured.records()
        assert [(r["message"], r["properties"]) for r in records] == [
            ("Starting chunked sync for entity", {"jobId": "j-9", "entity": "contacts"}),
            ("Rate limited", {"retryAfterMs": 250}),
            ("Rate limited 100% of the time", {"retryAfterMs": 500}),
            ("Keywords win", {"bound": 2, "k": "keyword"}),
        ]

    def test_the_stdlib_mapping_form_is_still_formatted(self, console: io.StringIO) -> None:
        """With ``%(name)s`` placeholders the mapping fills the message, as the standard library does."""
        logging.getLogger("plain").info("Synced %(count)d %(entity)s", {"count": 3, "entity": "deals"})
        get_logger("b").info("Synced %(entity)s", {"entity": "contacts"})
        assert [(r["message"], r["properties"]) for r in _records(console)] == [
            ("Synced 3 deals", {}),
            ("Synced contacts", {}),
        ]

    def test_array_categories(self, console: io.StringIO) -> None:
        """LogTape's array categories name the same logger as the dotted string."""
        from otel_revops.integrations.inngest import InngestLogger

        get_logger(["inngest", "sync"]).info("from a list")
        InngestLogger(("inngest", "fn")).info("from a tuple")
        assert [r["category"] for r in _records(console)] == ["inngest.sync", "inngest.fn"]
        assert get_logger(["inngest", "sync"]).logger is logging.getLogger("inngest.sync")
        with pytest.raises(TypeError, match="sequence of strings"):
            get_logger(["inngest", 3])  # type: ignore[list-item]


class TestStaticScopes:
    def test_execution_records_keep_their_category_under_one_scope(self) -> None:
        """Per-execution categories are exported under the scope ``inngest.execution``; the full category is
        the record's category everywhere, and no property."""
        from otel_revops.testing import capture_logs

        with capture_logs() as captured:
            get_execution_logger("job-1", "exe-1").info("one")
            get_execution_logger("job-1", "exe-2").info("two")
            get_sync_logger("contacts").info("three")
            records = captured.records()
        assert [r["category"] for r in records] == [
            "inngest.execution.job-1.exe-1",
            "inngest.execution.job-1.exe-2",
            "inngest.sync.contacts",
        ]
        assert [r["properties"] for r in records][:2] == [
            {"jobId": "job-1", "executionId": "exe-1"},
            {"jobId": "job-1", "executionId": "exe-2"},
        ]
