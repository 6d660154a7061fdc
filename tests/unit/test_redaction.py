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

    def test_properties_copies_and_redact_properties_works_in_place(self) -> None:
        """``properties`` leaves its argument as it was; ``redact_properties`` redacts the dict it is given."""
        given = {"password": SECRET, "entity": "contacts", "chunk": 3}
        assert Redactor().properties(given) == {"password": "[REDACTED]", "entity": "contacts", "chunk": 3}
        assert given["password"] == SECRET
        same = Redactor().redact_properties(given)
        assert same is given
        assert given == {"password": "[REDACTED]", "entity": "contacts", "chunk": 3}

    def test_any_depth(self) -> None:
        """Nested dicts and lists are walked."""
        redacted = Redactor().properties({"request": {"headers": [{"Authorization": SECRET}], "ok": 1}})
        assert redacted == {"request": {"headers": [{"Authorization": "[REDACTED]"}], "ok": 1}}

    def test_url_credentials_and_bearer_tokens(self) -> None:
        """Passwords in URLs and bearer tokens in text are masked."""
        r = Redactor()
        assert r.text("connecting to mongodb://app:hunter2@db:27017/revops") == "connecting to mongodb://app:***@db:27017/revops"
        assert r.text("sent Authorization: Bearer eyJhbGciOi.x-y_z") == "sent Authorization: Bearer ***"
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


class TestDetectors:
    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            ("login password=hunter2 refused", "login password=*** refused"),
            ("token: abc123, expired", "token: ***, expired"),
            ('{"password": "hunter2", "user": "bob"}', '{"password": "***", "user": "bob"}'),
            ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
            ("[('Authorization', 'Basic dXNlcjpwYXNz')]", "[('Authorization', 'Basic ***')]"),
            ("Bearer abc.def-ghi", "Bearer ***"),
            ("key AKIAIOSFODNN7EXAMPLE", "key AKIA****************"),
            ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key=***"),
            ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt eyJhbGciOiJIUzI1NiJ9.***.***"),
            ("GET /v1?api_key=k1&page=2&sig=s1&access_token=t1", "GET /v1?api_key=***&page=2&sig=***&access_token=***"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
             "-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----"),
            ("paid 4111 1111 1111 1111", "paid ************1111"),
            ("mongodb://svc:hunter2@prod@db/x", "mongodb://svc:***@db/x"),
        ],
    )  # fmt: skip
    def test_secrets_inside_text(self, text: str, masked: str) -> None:
        """Each shape is masked, keeping what helps debugging."""
        assert Redactor().text(text) == masked

    @pytest.mark.parametrize(
        "text",
        [
            "jobId 65a4f3b2c1d2e3f4a5b6c7d8 executionId 65a4f3b2c1d2e3f4a5b6c7d9",
            "run 01HGW2N7EZQ9WJ4XPRMV8Z3K6B at 2026-12-03T14:00:00.123Z",
            "ts 1733212345678 phone +1 415 555 0100 amount 1234567.89 order 4111111111111112",
            "Basic sync started for contacts, syncMode incremental, 500 records in 1.2 s",
        ],
    )
    def test_the_domains_data_stays_visible(self, text: str) -> None:
        """Ids, run ids, timestamps, phone numbers, amounts and a number failing the Luhn check are kept."""
        assert Redactor().text(text) == text

    @pytest.mark.parametrize(
        "key", ["X-API-Key", "xApiKey", "x_api_key", "private_key", "access_key_id", "passphrase", "pwd", "auth",
                "client_secret", "basicAuth"],
    )  # fmt: skip
    def test_secret_keys_compared_normalised(self, key: str) -> None:
        """Case, ``-``, ``_`` and camelCase do not matter."""
        assert Redactor().properties({key: SECRET}) == {key: "[REDACTED]"}

    def test_domain_keys_stay_visible(self) -> None:
        """jobId, executionId, inngestRunId, syncMode, entity, author: not secrets."""
        values = {"jobId": "j", "executionId": "e", "inngestRunId": "r", "syncMode": "full", "entity": "c", "author": "a"}
        assert Redactor().properties(values) == values

    def test_allowed_keys(self) -> None:
        """OTEL_REVOPS_REDACT_ALLOW_KEYS shows a key the defaults would hide, compared normalised."""
        settings = otel_revops.Settings.resolve(env={"OTEL_REVOPS_REDACT_ALLOW_KEYS": "sessionId"})
        redactor = Redactor(settings.redact_keys, settings.redact_patterns, settings.redact_allow_keys)
        assert redactor.properties({"session_id": "s1", "sessionToken": "t"}) == {
            "session_id": "s1",
            "sessionToken": "[REDACTED]",
        }

    def test_structured_arguments(self) -> None:
        """Dicts, header pairs, dataclasses and objects with a __dict__ are walked without their __repr__."""
        import dataclasses

        @dataclasses.dataclass
        class Config:
            user: str
            password: str

            def __repr__(self) -> str:
                raise AssertionError("never called")

        class Client:
            def __init__(self) -> None:
                self.name = "crm"
                self.api_key = SECRET

        redacted = Redactor().arguments(
            ({"password": SECRET, "n": 1}, [("Authorization", SECRET), ("Accept", "json")], Config("u", SECRET), Client())
        )
        assert redacted == (
            {"password": "[REDACTED]", "n": 1},
            [("Authorization", "[REDACTED]"), ("Accept", "json")],
            "Config(user='u', password='[REDACTED]')",
            "Client(name='crm', api_key='[REDACTED]')",
        )

    def test_message_dict_and_arguments_on_the_console(self) -> None:
        """A dict given as the message, or as a %s argument, reaches the console redacted."""
        stream = io.StringIO()
        otel_revops.configure_logging(console_stream=stream, console="json")
        logging.getLogger("c").info({"password": SECRET, "entity": "contacts"})
        logging.getLogger("c").info("request %s", {"password": SECRET})
        otel_revops.shutdown_logging()
        text = stream.getvalue()
        assert SECRET not in text
        assert text.count("[REDACTED]") == 2 and "contacts" in text


def test_records_of_the_logs_api_are_redacted_before_any_destination() -> None:
    """A record emitted through the OpenTelemetry Logs API (not through logging) is redacted too."""
    from opentelemetry._logs import LogRecord

    exporter = InMemoryLogRecordExporter()
    pipeline = otel_revops.configure_logging(console="none", exporters=[exporter])
    pipeline.logger_provider.get_logger("api").emit(
        LogRecord(body=f"login password={SECRET}", attributes={"X-API-Key": SECRET, "entity": "contacts"})
    )
    assert pipeline.force_flush(5000)
    (record,) = [r.log_record for r in exporter.get_finished_logs()]
    assert record.body == "login password=***"
    assert dict(record.attributes or {}) == {"X-API-Key": "[REDACTED]", "entity": "contacts"}
