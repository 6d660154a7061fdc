"""Settings resolve argument → environment → default, and bad values fail at configure time."""

from __future__ import annotations

import io
import logging

import pytest

import otel_revops
from otel_revops import ConfigurationError, Settings


class TestResolution:
    def test_defaults(self) -> None:
        """With nothing set: pretty console, info level, revops-sync."""
        settings = Settings.resolve(env={})
        assert settings.console == "pretty"
        assert settings.log_level == logging.INFO
        assert settings.service_name == "revops-sync"
        assert settings.log_levels == {}
        assert settings.mongodb_uri is None

    def test_environment_then_argument(self) -> None:
        """The environment overrides defaults; an argument overrides the environment."""
        env = {"OTEL_REVOPS_CONSOLE": "json", "OTEL_REVOPS_LOG_LEVEL": "warning", "OTEL_SERVICE_NAME": "svc"}
        assert Settings.resolve(env=env).console == "json"
        assert Settings.resolve(env=env).log_level == logging.WARNING
        assert Settings.resolve(env=env).service_name == "svc"
        assert Settings.resolve(env=env, console="none").console == "none"

    def test_service_name_from_resource_attributes(self) -> None:
        """service.name in OTEL_RESOURCE_ATTRIBUTES is used when OTEL_SERVICE_NAME is not set."""
        env = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=billing"}
        assert Settings.resolve(env=env).service_name == "billing"
        assert Settings.resolve(env={**env, "OTEL_SERVICE_NAME": "svc"}).service_name == "svc"

    def test_per_category_levels(self) -> None:
        """OTEL_REVOPS_LOG_LEVELS parses category=level pairs."""
        settings = Settings.resolve(env={"OTEL_REVOPS_LOG_LEVELS": "inngest.sync=debug, pymongo=warning"})
        assert settings.log_levels == {"inngest.sync": logging.DEBUG, "pymongo": logging.WARNING}

    def test_mongodb_uri_fallback(self) -> None:
        """OTEL_REVOPS_MONGODB_URI wins over MONGODB_URI, which is used when alone."""
        assert Settings.resolve(env={"MONGODB_URI": "mongodb://a"}).mongodb_uri == "mongodb://a"
        both = {"MONGODB_URI": "mongodb://a", "OTEL_REVOPS_MONGODB_URI": "mongodb://b"}
        assert Settings.resolve(env=both).mongodb_uri == "mongodb://b"

    def test_otlp_endpoint_prefers_the_logs_variable(self) -> None:
        """The signal-specific endpoint wins, like OTel's own exporters."""
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://b:4317"}
        assert Settings.resolve(env=env).otlp_endpoint == "http://b:4317"


class TestErrors:
    @pytest.mark.parametrize(
        ("env", "expected"),
        [
            ({"OTEL_REVOPS_CONSOLE": "fancy"}, r"console \(OTEL_REVOPS_CONSOLE\)='fancy' is not valid: expected one of 'pretty', 'json', 'none'"),
            ({"OTEL_REVOPS_LOG_LEVEL": "loud"}, r"log_level \(OTEL_REVOPS_LOG_LEVEL\)='loud' is not valid: expected debug, info"),
            ({"OTEL_REVOPS_LOG_LEVELS": "inngest"}, r"log_levels \(OTEL_REVOPS_LOG_LEVELS\)='inngest' is not valid: expected comma-separated"),
            ({"OTEL_REVOPS_LOG_LEVELS": "a=nope"}, r"log_levels\[a\] \(OTEL_REVOPS_LOG_LEVELS\)='nope'"),
            ({"OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT": "0"}, r"mongodb_embedded_limit \(OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT\)='0' is not valid: expected an integer from 1 to 100000"),
            ({"OTEL_REVOPS_MONGODB_UPSERT": "maybe"}, r"OTEL_REVOPS_MONGODB_UPSERT\)='maybe' is not valid: expected true or false"),
            ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, r"otlp_protocol \(OTEL_EXPORTER_OTLP_PROTOCOL\)='http/json'"),
        ],
    )
    def test_bad_environment_value_names_setting_and_choices(self, env: dict[str, str], expected: str) -> None:
        """The error names the setting, its variable, the value and what is allowed."""
        with pytest.raises(ConfigurationError, match=expected):
            Settings.resolve(env=env)

    def test_bad_argument_fails_configure_and_keeps_the_old_pipeline(self) -> None:
        """configure_logging raises before touching the running pipeline."""
        stream = io.StringIO()
        first = otel_revops.configure_logging(console_stream=stream)
        with pytest.raises(ConfigurationError, match="console='loud' is not valid"):
            otel_revops.configure_logging(console="loud")
        assert otel_revops.current_pipeline() is first
        logging.getLogger("c").info("still here")
        assert "still here" in stream.getvalue()

    def test_unknown_setting(self) -> None:
        """A misspelt keyword is refused with the list of known ones."""
        with pytest.raises(ConfigurationError, match=r"unknown setting.*consle.*expected some of.*console"):
            otel_revops.configure_logging(consle="json")

    def test_stream_must_be_writable(self) -> None:
        """console_stream must have write()."""
        with pytest.raises(ConfigurationError, match="console_stream"):
            otel_revops.configure_logging(console_stream=42)


def test_variables_of_earlier_releases_are_named_with_their_replacement() -> None:
    """A removed variable still set is reported once, naming what took its place; it changes nothing."""
    env = {"OTEL_REVOPS_MONGODB_RETRY_DEADLINE_MS": "5000", "OTEL_REVOPS_EXPORT_QUEUE_SIZE": "10"}
    assert Settings.replaced(env) == [
        "OTEL_REVOPS_EXPORT_QUEUE_SIZE is no longer read: OTEL_REVOPS_MAX_QUEUE_SIZE bounds every queue",
        "OTEL_REVOPS_MONGODB_RETRY_DEADLINE_MS is no longer read: OTEL_REVOPS_RETRY_DEADLINE_MS serves every destination",
    ]
    assert Settings.resolve(env).retry_deadline_ms == Settings.default("retry_deadline_ms")
    assert Settings.replaced({}) == []


def test_configuring_reports_a_variable_of_an_earlier_release(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The report reaches standard error when logging is configured."""
    monkeypatch.setenv("OTEL_REVOPS_MONGODB_MAX_PENDING", "100")
    otel_revops.configure_logging(console="none")
    otel_revops.shutdown_logging()
    assert "OTEL_REVOPS_MONGODB_MAX_PENDING is no longer read: OTEL_REVOPS_MAX_QUEUE_SIZE" in capfd.readouterr().err
