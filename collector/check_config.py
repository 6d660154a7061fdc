"""Static checks for OpenTelemetry Collector configuration files, without a collector binary.

Usage::

    python collector/check_config.py otel-collector.yaml collector/datadog.yaml
    python collector/check_config.py --readme collector/README.md my-collector.yaml

Exits 0 when every file passes, 1 otherwise, printing one line per problem.

What is checked (the mistakes that make a collector refuse to start, or start and
quietly lose or leak data):

- the file is YAML (duplicate keys included, which the collector rejects);
- every component a pipeline names is defined, every defined component is used;
- every extension referenced (``service.extensions``, a ``storage``) is defined, and
  every defined extension is enabled in ``service.extensions``;
- every ``${env:NAME}``, ``${env:NAME:-default}`` and ``${NAME}`` is documented in the
  README, and no bare ``$NAME`` (which the collector leaves as text) remains;
- ``datadog`` has ``api.key``; ``awscloudwatchlogs`` has ``log_group_name``,
  ``log_stream_name`` and ``region``;
- ``datadog`` and ``awscloudwatchlogs`` queue on a ``file_storage`` extension;
- every pipeline has a receiver and an exporter, starts with ``memory_limiter``,
  and a logs pipeline sending to those backends redacts before it batches.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["EnvReference", "check_config", "component_type", "env_references", "main"]

#: The README a configuration's environment variables must be documented in, by default.
DEFAULT_README = Path(__file__).resolve().parent / "README.md"

PIPELINE_TYPES = frozenset({"traces", "metrics", "logs", "profiles"})
#: Exporters whose data must survive a collector restart: they queue on disk.
DURABLE_EXPORTERS = frozenset({"datadog", "awscloudwatchlogs"})
#: Settings an exporter cannot work without, as paths into its configuration.
REQUIRED_SETTINGS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "datadog": (("api", "key"),),
    "awscloudwatchlogs": (("log_group_name",), ("log_stream_name",), ("region",)),
}
REDACTING_PROCESSORS = frozenset({"redaction"})
STORAGE_EXTENSION = "file_storage"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass(frozen=True)
class EnvReference:
    """One environment variable a configuration string refers to."""

    #: The variable's name.
    name: str
    #: The text after ``:-``, used when the variable is unset; ``None`` without one.
    default: str | None
    #: The reference as written, e.g. ``${env:DD_SITE:-datadoghq.com}``.
    text: str

    @property
    def bare(self) -> bool:
        """Whether this is a ``$NAME`` reference, which the collector does not expand."""
        return not self.text.startswith("${")


def component_type(component_id: str) -> str:
    """The type part of a component id: ``otlp`` for ``otlp/grpc``."""
    return component_id.split("/", 1)[0]


def env_references(text: str) -> list[EnvReference]:
    """Every environment variable ``text`` refers to, in order.

    ``$$`` is the collector's escape for a literal ``$``; ``${file:...}`` and other
    non-``env`` schemes are not environment variables.
    """
    found: list[EnvReference] = []
    i = text.find("$")
    while i >= 0:
        following = text[i + 1 : i + 2]
        if following == "$":
            i = text.find("$", i + 2)
            continue
        if following == "{":
            end = text.find("}", i + 2)
            if end < 0:
                break
            reference = _braced_reference(text[i : end + 1])
            if reference is not None:
                found.append(reference)
            i = text.find("$", end + 1)
            continue
        bare = _ENV_NAME.match(text, i + 1)
        if bare:
            found.append(EnvReference(bare.group(), None, "$" + bare.group()))
        i = text.find("$", i + 1)
    return found


def _braced_reference(placeholder: str) -> EnvReference | None:
    content = placeholder[2:-1]
    if content.startswith("env:"):
        content = content[len("env:") :]
    else:
        name, _, _ = content.partition(":-")
        if not _ENV_NAME.fullmatch(name) and _URI_SCHEME.match(content):
            return None  # another provider, e.g. ${file:/run/secrets/key}
    name, separator, default = content.partition(":-")
    return EnvReference(name, default if separator else None, placeholder)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys, as the collector does."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """The mapping at ``node``; a key that appears twice is a ``ConstructorError``."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_config(path: Path, readme: Path) -> list[str]:
    """Problems found in the collector configuration at ``path``; an empty list means none.

    ``readme`` is the document every environment variable the configuration uses must
    be named in.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        return [f"cannot read the configuration: {error}"]
    try:
        config = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        return [f"invalid YAML: {' '.join(str(error).split())}"]
    if not isinstance(config, Mapping):
        return ["the configuration is not a YAML mapping of sections"]
    try:
        readme_text = readme.read_text(encoding="utf-8")
    except OSError as error:
        readme_text = None
        readme_problem = [f"cannot read the README {readme}: {error}"]
    else:
        readme_problem = []
    return [
        *_check_sections(config),
        *_check_pipelines(config),
        *_check_extensions(config),
        *_check_exporters(config),
        *_check_processor_order(config),
        *readme_problem,
        *_check_env(config, readme_text),
    ]


def _section(config: Mapping[Any, Any], name: str) -> Mapping[str, Any]:
    value = config.get(name)
    return value if isinstance(value, Mapping) else {}


def _service(config: Mapping[Any, Any]) -> Mapping[str, Any]:
    return _section(config, "service")


def _pipelines(config: Mapping[Any, Any]) -> Mapping[str, Any]:
    return _section(_service(config), "pipelines")


def _id_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _check_sections(config: Mapping[Any, Any]) -> list[str]:
    problems = []
    for name in ("receivers", "processors", "exporters", "connectors", "extensions", "service"):
        value = config.get(name)
        if value is not None and not isinstance(value, Mapping):
            problems.append(f"section '{name}' must be a mapping, not {type(value).__name__}")
    if not _pipelines(config):
        problems.append("service.pipelines defines no pipeline")
    return problems


def _check_pipelines(config: Mapping[Any, Any]) -> list[str]:
    problems: list[str] = []
    defined = {kind: set(map(str, _section(config, kind))) for kind in ("receivers", "processors", "exporters")}
    connectors = set(map(str, _section(config, "connectors")))
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    connectors_as = {"receivers": set[str](), "exporters": set[str]()}
    for pipeline_id, pipeline in _pipelines(config).items():
        where = f"pipeline '{pipeline_id}'"
        if component_type(str(pipeline_id)) not in PIPELINE_TYPES:
            problems.append(f"{where} has unknown type '{component_type(str(pipeline_id))}'")
        if not isinstance(pipeline, Mapping):
            problems.append(f"{where} must be a mapping of receivers, processors and exporters")
            continue
        for kind in ("receivers", "processors", "exporters"):
            value = pipeline.get(kind)
            if value is not None and not isinstance(value, list):
                problems.append(f"{where}: '{kind}' must be a list of component ids")
            ids = _id_list(value)
            if kind != "processors" and not ids:
                problems.append(f"{where} has no {kind}")
            for component_id in sorted({i for i in ids if ids.count(i) > 1}):
                problems.append(f"{where} names {kind[:-1]} '{component_id}' more than once")
            for component_id in ids:
                if component_id in defined[kind]:
                    used[kind].add(component_id)
                elif kind != "processors" and component_id in connectors:
                    connectors_as[kind].add(component_id)
                else:
                    problems.append(f"{where} names {kind[:-1]} '{component_id}', which is not defined under '{kind}'")
    for kind in ("receivers", "processors", "exporters"):
        for component_id in sorted(defined[kind] - used[kind]):
            problems.append(f"{kind[:-1]} '{component_id}' is defined but not used by any pipeline")
    for connector_id in sorted(connectors):
        if connector_id not in connectors_as["exporters"] or connector_id not in connectors_as["receivers"]:
            problems.append(f"connector '{connector_id}' must be an exporter of one pipeline and a receiver of another")
    return problems


def _storage_references(config: Mapping[Any, Any]) -> Iterator[tuple[str, str]]:
    """(where, extension id) for every storage a component asks for."""
    for kind in ("receivers", "processors", "exporters"):
        for component_id, settings in _section(config, kind).items():
            if not isinstance(settings, Mapping):
                continue
            if isinstance(settings.get("storage"), str):
                yield f"{kind[:-1]} '{component_id}'", settings["storage"]
            queue = settings.get("sending_queue")
            if isinstance(queue, Mapping) and isinstance(queue.get("storage"), str):
                yield f"the sending queue of {kind[:-1]} '{component_id}'", queue["storage"]


def _check_extensions(config: Mapping[Any, Any]) -> list[str]:
    problems: list[str] = []
    defined = set(map(str, _section(config, "extensions")))
    raw_enabled = _service(config).get("extensions")
    if raw_enabled is not None and not isinstance(raw_enabled, list):
        problems.append("service.extensions must be a list of extension ids")
    enabled = _id_list(raw_enabled)
    for extension_id in enabled:
        if extension_id not in defined:
            problems.append(f"service.extensions names '{extension_id}', which is not defined under 'extensions'")
    for extension_id in sorted(defined - set(enabled)):
        problems.append(f"extension '{extension_id}' is defined but not listed in service.extensions")
    for where, extension_id in _storage_references(config):
        if extension_id not in defined:
            problems.append(f"{where} uses storage '{extension_id}', which is not defined under 'extensions'")
        elif extension_id not in enabled:
            problems.append(f"{where} uses storage '{extension_id}', which is not listed in service.extensions")
    return problems


def _setting(settings: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(settings, Mapping):
            return None
        settings = settings.get(key)
    return settings


def _check_exporters(config: Mapping[Any, Any]) -> list[str]:
    problems: list[str] = []
    for exporter_id, settings in _section(config, "exporters").items():
        kind = component_type(str(exporter_id))
        for path in REQUIRED_SETTINGS.get(kind, ()):
            if _setting(settings, path) in (None, ""):
                problems.append(f"exporter '{exporter_id}' has no {'.'.join(path)}")
        if kind not in DURABLE_EXPORTERS:
            continue
        queue = _setting(settings, ("sending_queue",))
        storage = _setting(queue, ("storage",))
        if not isinstance(queue, Mapping) or queue.get("enabled") is False:
            problems.append(
                f"exporter '{exporter_id}' needs an enabled sending_queue on a {STORAGE_EXTENSION} extension"
            )
        elif not isinstance(storage, str) or not storage:
            problems.append(
                f"exporter '{exporter_id}' keeps its queue in memory: set sending_queue.storage to a "
                f"{STORAGE_EXTENSION} extension so a restart loses nothing"
            )
        elif component_type(storage) != STORAGE_EXTENSION:
            problems.append(
                f"exporter '{exporter_id}' queues on '{storage}', which is not a {STORAGE_EXTENSION} extension"
            )
    return problems


def _check_processor_order(config: Mapping[Any, Any]) -> list[str]:
    problems: list[str] = []
    exporters = _section(config, "exporters")
    for pipeline_id, pipeline in _pipelines(config).items():
        if not isinstance(pipeline, Mapping):
            continue
        where = f"pipeline '{pipeline_id}'"
        processors = _id_list(pipeline.get("processors"))
        types = [component_type(p) for p in processors]
        if not types or types[0] != "memory_limiter":
            found = f"'{processors[0]}' is" if processors else "no processor is"
            problems.append(f"{where}: memory_limiter must be the first processor ({found} first)")
        redacting = [i for i, t in enumerate(types) if t in REDACTING_PROCESSORS]
        batching = [i for i, t in enumerate(types) if t == "batch"]
        if redacting and batching and min(batching) < max(redacting):
            problems.append(f"{where}: batch must come after redaction, so batches hold redacted records only")
        forwards = sorted(
            e for e in _id_list(pipeline.get("exporters")) if e in exporters and component_type(e) in DURABLE_EXPORTERS
        )
        if component_type(str(pipeline_id)) == "logs" and forwards and not redacting:
            problems.append(f"{where} sends to {', '.join(forwards)} without a redaction processor")
    return problems


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _check_env(config: Mapping[Any, Any], readme_text: str | None) -> list[str]:
    problems: list[str] = []
    reported: set[str] = set()
    for text in _strings(config):
        for reference in env_references(text):
            if reference.bare:
                problems.append(f"'{reference.text}' is not expanded by the collector; write ${{env:{reference.name}}}")
            elif not _ENV_NAME.fullmatch(reference.name):
                problems.append(f"'{reference.text}' does not name a valid environment variable")
            elif (
                readme_text is not None
                and reference.name not in reported
                and not _mentions(readme_text, reference.name)
            ):
                reported.add(reference.name)
                problems.append(
                    f"environment variable {reference.name} ({reference.text}) is not documented in the README"
                )
    return problems


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Check each file named on the command line; 0 when all pass, 1 otherwise."""
    parser = argparse.ArgumentParser(description="Check OpenTelemetry Collector configuration files.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="collector configuration (YAML)")
    parser.add_argument(
        "--readme",
        type=Path,
        default=DEFAULT_README,
        help="document that must name every environment variable used (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        problems = check_config(path, args.readme)
        for problem in problems:
            print(f"{path}: {problem}")
        if problems:
            failed = True
        else:
            print(f"{path}: OK")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
