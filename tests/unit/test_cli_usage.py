"""Bad usage and missing settings: exit code 2 and one line on standard error, before any server is asked."""

from __future__ import annotations

import os

import pytest

from otel_revops.cli import run
from otel_revops.cli.doctor import otlp_address
from otel_revops.cli.store import redact_uri


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* or MongoDB variable of the surrounding shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("OTEL_") or name in ("MONGODB_URI", "NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single line written to standard error."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


class TestUsageErrors:
    @pytest.mark.parametrize(
        ("argv", "expected"),
        [
            (["logs", "abc", "--since", "5x"], "Invalid value for '--since': '5x' is not a duration"),
            (["executions", "--stale", "soon"], "Invalid value for '--stale': 'soon' is not a duration"),
            (["prune", "--older-than", "0d"], "it must be longer than zero"),
            (["prune"], "Missing option '--older-than'"),
            (["logs"], "Missing argument 'EXECUTION_ID'"),
            (["logs", "abc", "--level", "loud"], "Invalid value for '--level'"),
            (["tail"], "No such command 'tail'"),
        ],
    )
    def test_exit_2_with_one_line(self, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
        """Each usage mistake is one line naming it, and exit code 2."""
        assert run(argv) == 2
        line = error_line(capsys)
        assert line.startswith("otel-revops: error: ")
        assert expected in line
        assert "--help'" in line

    def test_no_uri_is_a_usage_error_saying_how_to_set_one(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without OTEL_REVOPS_MONGODB_URI or --uri, commands that need MongoDB exit 2 and say what to set."""
        assert run(["executions"]) == 2
        assert "no MongoDB URI: pass --uri or set OTEL_REVOPS_MONGODB_URI" in error_line(capsys)

    def test_a_bad_setting_is_named(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad OTEL_REVOPS_* value stops the command with the setting and its variable named."""
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_RETENTION_DAYS", "a month")
        assert run(["--uri", "mongodb://127.0.0.1:1/", "ensure-indexes"]) == 2
        assert "OTEL_REVOPS_MONGODB_RETENTION_DAYS" in error_line(capsys)

    def test_no_arguments_prints_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Bare otel-revops lists the commands."""
        assert run([]) == 2
        out = capsys.readouterr().out
        for command in ("logs", "executions", "stats", "prune", "ensure-indexes", "doctor", "demo"):
            assert f"\n  {command} " in out

    def test_help_and_version_succeed(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help and --version exit 0."""
        assert run(["logs", "--help"]) == 0
        assert "--follow" in capsys.readouterr().out
        assert run(["--version"]) == 0
        assert "otel-revops, version " in capsys.readouterr().out


class TestHelpers:
    def test_passwords_are_masked_in_messages(self) -> None:
        """A URI's password never reaches the terminal."""
        assert (
            redact_uri("mongodb://ops:s3cret@db.internal:27017/revops") == "mongodb://ops:***@db.internal:27017/revops"
        )
        assert redact_uri("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"

    @pytest.mark.parametrize(
        ("endpoint", "protocol", "expected"),
        [
            ("http://collector:4317", "grpc", ("collector", 4317)),
            ("collector:4317", "grpc", ("collector", 4317)),
            ("http://collector", "grpc", ("collector", 4317)),
            ("http://collector", "http/protobuf", ("collector", 4318)),
            ("https://otlp.example.com", "http/protobuf", ("otlp.example.com", 443)),
            ("http://127.0.0.1:9999/v1/logs", "http/protobuf", ("127.0.0.1", 9999)),
        ],
    )
    def test_otlp_endpoint_address(self, endpoint: str, protocol: str, expected: tuple[str, int]) -> None:
        """doctor connects where the exporter would: explicit port, else the protocol's default."""
        assert otlp_address(endpoint, protocol) == expected
