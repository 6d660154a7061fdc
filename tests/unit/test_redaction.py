"""Secrets are redacted before any output: keys at any depth, URL credentials, bearer tokens."""

from __future__ import annotations

import io
import logging

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

import otel_revops
from otel_revops import ConfigurationError
from otel_revops.redaction import Redactor, mask_url_credentials

SECRET = "s3cr3t-VALUE"


class TestRedactor:
    @pytest.mark.parametrize(
        "key",
        ["password", "dbPassword", "passwd", "client_secret", "accessToken", "api_key", "X-ApiKey", "Authorization",
         "cookie", "sessionId", "credentials"],
    )
    def test_secret_keys(self, key: str) -> None:
        """Each default key pattern redacts its value, whatever the case."""
        assert Redactor().properties({key: SECRET, "entity": "contacts"}) == {key: "[REDACTED]", "entity": "contacts"}

    def test_any_depth(self) -> None:
        """Nested dicts and lists are walked."""
        redacted = Redactor().properties({"request": {"headers": [{"Authorization": SECRET}], "ok": 1}})
        assert redacted == {"request": {"headers": [{"Authorization": "[REDACTED]"}], "ok": 1}}

    def test_url_credentials_and_bearer_tokens(self) -> None:
        """Passwords in URLs and bearer tokens in text are masked."""
        r = Redactor()
        assert r.text("connecting to mongodb://app:hunter2@db:27017/revops") == "connecting to mongodb://app:***@db:27017/revops"
        assert r.text("sent Authorization: Bearer eyJhbGciOi.x-y_z") == "sent Authorization: Bearer [REDACTED]"
        assert r.properties({"uri": "https://u:p@host/x"}) == {"uri": "https://u:***@host/x"}
        assert mask_url_credentials("http://host/path@x") == "http://host/path@x"

    def test_configured_keys_and_patterns(self) -> None:
        """OTEL_REVOPS_REDACT_KEYS replaces the list; patterns add text masks."""
        settings = otel_revops.Settings.resolve(
            env={"OTEL_REVOPS_REDACT_KEYS": "ssn,^pin$", "OTEL_REVOPS_REDACT_PATTERNS": r"\d{3}-\d{2}-\d{4}"}
        )
        r = Redactor(settings.redact_keys, settings.redact_patterns)
        assert r.properties({"ssn": 1, "pin": 2, "spin": 3, "password": "kept"}) == {
            "ssn": "[REDACTED]", "pin": "[REDACTED]", "spin": 3, "password": "kept",
        }
        assert r.text("id 123-45-6789") == "id [REDACTED]"

    def test_bad_pattern_is_a_configuration_error(self) -> None:
        """An invalid regular expression fails at configure time, naming the setting."""
        with pytest.raises(ConfigurationError, match=r"OTEL_REVOPS_REDACT_PATTERNS.*invalid regular expression"):
            otel_revops.Settings.resolve(env={"OTEL_REVOPS_REDACT_PATTERNS": "(unclosed"})


class TestOutputs:
    def _log_secrets(self) -> None:
        with otel_revops.execution_context(job_id="j", execution_id="e", apiToken=SECRET):
            otel_revops.get_logger("c").info(
                "login to mongodb://admin:%s@db/x", SECRET, password=SECRET, nested={"cookie": SECRET}
            )
            try:
                raise ValueError(f"cannot reach https://bot:{SECRET}@hooks.example.com")
            except ValueError:
                logging.getLogger("c").exception("failed with Bearer %s", SECRET)

    def test_console_never_shows_the_secret(self) -> None:
        """Pretty console: properties, message and traceback are redacted."""
        stream = io.StringIO()
        otel_revops.configure_logging(console_stream=stream)
        self._log_secrets()
        text = stream.getvalue()
        assert SECRET not in text
        assert "mongodb://admin:***@db/x" in text
        assert '"password": "[REDACTED]"' in text
        assert '"apiToken": "[REDACTED]"' in text

    def test_exported_records_never_carry_the_secret(self) -> None:
        """Exporters (OTLP, MongoDB, file …) receive redacted bodies and attributes."""
        exporter = InMemoryLogRecordExporter()
        pipeline = otel_revops.configure_logging(console="none", exporters=[exporter])
        self._log_secrets()
        assert pipeline.force_flush(5000)
        dumped = "".join(r.to_json() for r in exporter.get_finished_logs())
        assert len(exporter.get_finished_logs()) == 2
        assert SECRET not in dumped
        assert "[REDACTED]" in dumped

    def test_redaction_can_be_turned_off(self) -> None:
        """OTEL_REVOPS_REDACT=false keeps values as logged."""
        stream = io.StringIO()
        otel_revops.configure_logging(console_stream=stream, redact=False)
        otel_revops.get_logger("c").info("m", password=SECRET)
        assert SECRET in stream.getvalue()
