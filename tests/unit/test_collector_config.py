"""The shipped collector configurations pass collector/check_config.py, which names each broken thing."""

from __future__ import annotations

import copy
import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = ROOT / "collector"
README = COLLECTOR_DIR / "README.md"
MAIN_CONFIG = ROOT / "otel-collector.yaml"
COMPOSE_FILE = COLLECTOR_DIR / "docker-compose.yaml"
SHIPPED_CONFIGS = [MAIN_CONFIG, COLLECTOR_DIR / "datadog.yaml", COLLECTOR_DIR / "cloudwatch.yaml"]


def _load_checker() -> ModuleType:
    # collector/ is a directory of deployment files, not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("collector_check_config", COLLECTOR_DIR / "check_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
check_config: Callable[[Path, Path], list[str]] = checker.check_config


def _config() -> dict[str, Any]:
    loaded = yaml.safe_load(MAIN_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _problems_after(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[str]:
    config = copy.deepcopy(_config())
    change(config)
    return check_config(_write(tmp_path, config), README)


class TestShippedConfigs:
    @pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
    def test_passes_the_check(self, path: Path) -> None:
        """Every configuration in the repository passes with the README it ships with."""
        assert check_config(path, README) == []

    def test_every_collector_config_is_checked(self) -> None:
        """A configuration added to collector/ is covered by the parametrised check above."""
        found = {p for p in COLLECTOR_DIR.glob("*.yaml") if p != COMPOSE_FILE} | {MAIN_CONFIG}
        assert found == set(SHIPPED_CONFIGS)

    def test_round_trip_of_the_main_config_passes(self, tmp_path: Path) -> None:
        """The unmodified config, re-serialised, passes: the broken copies below differ only by their break."""
        assert _problems_after(tmp_path, lambda config: None) == []

    @pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
    def test_readme_table_states_each_default(self, path: Path) -> None:
        """The README's variable table gives, for every ${env:NAME:-default}, that very default."""
        rows = {
            match.group(1): match.group(2)
            for match in re.finditer(r"^\| `([A-Z0-9_]+)` \|.*\| ([^|]+) \|$", README.read_text(), re.MULTILINE)
        }
        references = [ref for text in _all_strings(yaml.safe_load(path.read_text())) for ref in _env(text)]
        assert references, "the configuration uses environment variables"
        for reference in references:
            assert reference.name in rows, f"{reference.name} has no row in the README table"
            if reference.default is not None:
                assert f"`{reference.default}`" in rows[reference.name], reference.name
            else:
                assert rows[reference.name].startswith("none"), reference.name

    def test_datadog_and_cloudwatch_queues_are_on_disk(self) -> None:
        """Both forwarding exporters queue on the file_storage extension, whose directory comes from the env."""
        config = _config()
        for exporter in ("datadog", "awscloudwatchlogs"):
            assert config["exporters"][exporter]["sending_queue"] == {
                "enabled": True,
                "storage": "file_storage",
                "num_consumers": 4,
                "queue_size": 5000,
            }
        directory = config["extensions"]["file_storage"]["directory"]
        assert directory == "${env:OTEL_COLLECTOR_STORAGE_DIR:-/var/lib/otelcol/file_storage}"


def _all_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*_all_strings(key), *_all_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _all_strings(item)]
    return []


def _env(text: str) -> list[Any]:
    references: list[Any] = checker.env_references(text)
    return references


def _only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


class TestBrokenCopies:
    def test_pipeline_naming_an_undefined_exporter(self, tmp_path: Path) -> None:
        """A pipeline exporter missing from 'exporters' is reported by pipeline and id."""

        def change(config: dict[str, Any]) -> None:
            config["service"]["pipelines"]["logs"]["exporters"].append("otlp/gateway")

        problem = _only(_problems_after(tmp_path, change))
        assert "pipeline 'logs'" in problem
        assert "exporter 'otlp/gateway'" in problem
        assert "not defined" in problem

    def test_unused_defined_processor(self, tmp_path: Path) -> None:
        """A processor no pipeline uses is reported."""

        def change(config: dict[str, Any]) -> None:
            config["processors"]["attributes/unused"] = {"actions": [{"key": "x", "action": "delete"}]}

        problem = _only(_problems_after(tmp_path, change))
        assert "processor 'attributes/unused'" in problem
        assert "not used" in problem

    def test_undocumented_env_variable(self, tmp_path: Path) -> None:
        """An ${env:X} the README does not name is reported by name; naming it in the README fixes it."""

        def change(config: dict[str, Any]) -> None:
            config["exporters"]["datadog"]["hostname"] = "${env:OTEL_REVOPS_UNDOCUMENTED_HOSTNAME}"

        problem = _only(_problems_after(tmp_path, change))
        assert "OTEL_REVOPS_UNDOCUMENTED_HOSTNAME" in problem
        assert "not documented" in problem

        readme = tmp_path / "README.md"
        readme.write_text(README.read_text() + "\n| `OTEL_REVOPS_UNDOCUMENTED_HOSTNAME` | host | none |\n")
        assert check_config(tmp_path / "collector.yaml", readme) == []

    def test_env_variable_without_scheme_and_with_default_is_checked_too(self, tmp_path: Path) -> None:
        """${NAME} and ${NAME:-default} count as environment variables; ${file:...} does not."""

        def change(config: dict[str, Any]) -> None:
            config["exporters"]["datadog"]["hostname"] = "${SHORT_FORM_HOST:-collector-1}"
            config["exporters"]["datadog"]["api"]["key"] = "${file:/run/secrets/dd_api_key}"

        problem = _only(_problems_after(tmp_path, change))
        assert "SHORT_FORM_HOST" in problem

    def test_bare_dollar_variable(self, tmp_path: Path) -> None:
        """$NAME is left unexpanded by the collector, so it is reported; $$ is an escaped dollar and is not."""

        def change(config: dict[str, Any]) -> None:
            config["exporters"]["awscloudwatchlogs"]["log_stream_name"] = "$HOSTNAME"
            config["exporters"]["awscloudwatchlogs"]["log_group_name"] = "/costs/$$literal"

        problem = _only(_problems_after(tmp_path, change))
        assert "'$HOSTNAME' is not expanded" in problem
        assert "${env:HOSTNAME}" in problem

    def test_datadog_without_api_key(self, tmp_path: Path) -> None:
        """The Datadog exporter needs api.key."""

        def change(config: dict[str, Any]) -> None:
            del config["exporters"]["datadog"]["api"]["key"]

        assert _only(_problems_after(tmp_path, change)) == "exporter 'datadog' has no api.key"

    def test_cloudwatch_without_region(self, tmp_path: Path) -> None:
        """The CloudWatch exporter needs a region."""

        def change(config: dict[str, Any]) -> None:
            del config["exporters"]["awscloudwatchlogs"]["region"]

        assert _only(_problems_after(tmp_path, change)) == "exporter 'awscloudwatchlogs' has no region"

    def test_memory_limiter_not_first(self, tmp_path: Path) -> None:
        """memory_limiter must be the first processor of a pipeline."""

        def change(config: dict[str, Any]) -> None:
            processors = config["service"]["pipelines"]["logs"]["processors"]
            processors[0], processors[1] = processors[1], processors[0]

        problem = _only(_problems_after(tmp_path, change))
        assert "memory_limiter must be the first processor" in problem
        assert "'resourcedetection' is first" in problem

    def test_batch_before_redaction(self, tmp_path: Path) -> None:
        """batch placed before redaction is reported: the queue would hold unredacted batches."""

        def change(config: dict[str, Any]) -> None:
            config["service"]["pipelines"]["logs"]["processors"] = [
                "memory_limiter",
                "resourcedetection",
                "transform/logger_name",
                "batch",
                "redaction",
            ]

        assert "batch must come after redaction" in _only(_problems_after(tmp_path, change))

    def test_queue_storage_naming_a_missing_extension(self, tmp_path: Path) -> None:
        """A sending queue whose storage extension is not defined is reported with both names."""

        def change(config: dict[str, Any]) -> None:
            config["exporters"]["datadog"]["sending_queue"]["storage"] = "file_storage/missing"

        problem = _only(_problems_after(tmp_path, change))
        assert "exporter 'datadog'" in problem
        assert "'file_storage/missing'" in problem
        assert "not defined" in problem

    def test_queue_in_memory_only(self, tmp_path: Path) -> None:
        """A forwarding exporter without a storage-backed queue is reported."""

        def change(config: dict[str, Any]) -> None:
            del config["exporters"]["awscloudwatchlogs"]["sending_queue"]["storage"]

        assert "exporter 'awscloudwatchlogs' keeps its queue in memory" in _only(_problems_after(tmp_path, change))

    def test_extension_not_enabled(self, tmp_path: Path) -> None:
        """An extension defined but missing from service.extensions is reported."""

        def change(config: dict[str, Any]) -> None:
            config["service"]["extensions"].remove("pprof")

        assert _only(_problems_after(tmp_path, change)) == (
            "extension 'pprof' is defined but not listed in service.extensions"
        )

    def test_logs_pipeline_without_receivers(self, tmp_path: Path) -> None:
        """A pipeline with no receiver is reported (and, used by no pipeline, its receiver counts as unused)."""

        def change(config: dict[str, Any]) -> None:
            for pipeline in config["service"]["pipelines"].values():
                pipeline["receivers"] = []

        problems = _problems_after(tmp_path, change)
        assert "pipeline 'logs' has no receivers" in problems
        assert "receiver 'otlp' is defined but not used by any pipeline" in problems

    def test_forwarding_without_redaction(self, tmp_path: Path) -> None:
        """A logs pipeline that forwards to Datadog or CloudWatch must redact."""

        def change(config: dict[str, Any]) -> None:
            config["service"]["pipelines"]["logs"]["processors"].remove("redaction")
            del config["processors"]["redaction"]

        problem = _only(_problems_after(tmp_path, change))
        assert "sends to awscloudwatchlogs, datadog without a redaction processor" in problem

    def test_duplicate_key(self, tmp_path: Path) -> None:
        """A repeated key, which PyYAML would silently merge but the collector rejects, is invalid YAML."""
        path = tmp_path / "collector.yaml"
        path.write_text(MAIN_CONFIG.read_text() + "\nexporters:\n  debug: {}\n", encoding="utf-8")
        problem = _only(check_config(path, README))
        assert problem.startswith("invalid YAML")
        assert "duplicate key 'exporters'" in problem

    def test_invalid_yaml(self, tmp_path: Path) -> None:
        """A file that is not YAML gives one problem saying so."""
        path = tmp_path / "collector.yaml"
        path.write_text("receivers:\n  otlp: [unclosed\nexporters: {}\n", encoding="utf-8")
        assert _only(check_config(path, README)).startswith("invalid YAML")

    def test_not_a_mapping(self, tmp_path: Path) -> None:
        """A YAML list is not a collector configuration."""
        path = tmp_path / "collector.yaml"
        path.write_text("- receivers\n", encoding="utf-8")
        assert check_config(path, README) == ["the configuration is not a YAML mapping of sections"]


class TestCommandLine:
    def _run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(COLLECTOR_DIR / "check_config.py"), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )

    def test_shipped_configs_exit_zero(self) -> None:
        """The command exits 0 and says OK for each shipped configuration."""
        result = self._run(*SHIPPED_CONFIGS)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count(": OK") == len(SHIPPED_CONFIGS)

    def test_broken_config_exits_one_naming_file_and_problem(self, tmp_path: Path) -> None:
        """A broken file makes the command exit 1 and print the file and the problem."""
        config = copy.deepcopy(_config())
        del config["exporters"]["awscloudwatchlogs"]["region"]
        broken = _write(tmp_path, config)
        result = self._run(MAIN_CONFIG, broken)
        assert result.returncode == 1
        assert f"{broken}: exporter 'awscloudwatchlogs' has no region" in result.stdout.splitlines()
        assert f"{MAIN_CONFIG}: OK" in result.stdout.splitlines()


class TestDockerCompose:
    def _collector(self) -> dict[str, Any]:
        compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
        service = compose["services"]["collector"]
        assert isinstance(service, dict)
        return service

    def test_mounts_the_checked_config_where_the_command_reads_it(self) -> None:
        """The config mounted into the container is the repository's otel-collector.yaml, at the --config path."""
        service = self._collector()
        (config_flag,) = [arg for arg in service["command"] if arg.startswith("--config=")]
        container_path = config_flag.removeprefix("--config=")
        mounts = [volume.split(":") for volume in service["volumes"]]
        (source,) = [m[0] for m in mounts if m[1] == container_path]
        mounted = (COMPOSE_FILE.parent / source).resolve()
        assert mounted.is_file()
        assert mounted == MAIN_CONFIG

    def test_pinned_contrib_image(self) -> None:
        """The image is the contrib distribution at an exact version."""
        image = self._collector()["image"]
        assert re.fullmatch(r"otel/opentelemetry-collector-contrib:\d+\.\d+\.\d+", image), image

    def test_ports_published_on_loopback_only(self) -> None:
        """OTLP gRPC and HTTP are published, and every published port is bound to 127.0.0.1."""
        ports = [str(port) for port in self._collector()["ports"]]
        assert all(port.startswith("127.0.0.1:") for port in ports), ports
        assert {"127.0.0.1:4317:4317", "127.0.0.1:4318:4318"} <= set(ports)

    def test_queue_directory_is_a_volume(self) -> None:
        """The file_storage directory the config defaults to is a named volume, so the queue outlives the container."""
        directory = re.fullmatch(
            r"\$\{env:OTEL_COLLECTOR_STORAGE_DIR:-(.+)\}", _config()["extensions"]["file_storage"]["directory"]
        )
        assert directory is not None
        compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
        named = set(compose["volumes"])
        assert any(
            volume.split(":")[0] in named and volume.split(":")[1] == directory.group(1)
            for volume in self._collector()["volumes"]
        )

    def test_passes_backend_credentials_through(self) -> None:
        """The variables the config needs from the host reach the container."""
        environment = set(self._collector()["environment"])
        assert {"DD_API_KEY", "DD_SITE", "AWS_REGION", "CLOUDWATCH_LOG_GROUP_NAME"} <= environment
