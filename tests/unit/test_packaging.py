"""What the installed package declares and costs: its metadata, its plugin, its import and its extras."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points, metadata, requires
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_the_package_loads_neither_the_sdk_nor_asyncio() -> None:
    """``import otel_revops`` is cheap: OpenTelemetry, asyncio and ssl are loaded when first used."""
    probe = _python(
        "import sys, json; import otel_revops; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('opentelemetry', 'asyncio', 'ssl', 'pymongo', 'rich', 'click'))))"
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == []
    used = _python("import otel_revops; print(otel_revops.configure_logging.__module__)")
    assert used.stdout.strip() == "otel_revops.pipeline"


def test_the_integration_names_its_extra_when_the_sdk_is_missing() -> None:
    """Without the Inngest SDK the integration's ImportError says what to install."""
    probe = _python("import sys; sys.modules['inngest'] = None; import otel_revops.integrations.inngest")
    assert probe.returncode == 1
    assert "ImportError: otel_revops.integrations.inngest needs the Inngest SDK: pip install 'otel-revops[inngest]'" in (
        probe.stderr
    )


def test_metadata_ranges_licence_and_plugin() -> None:
    """OpenTelemetry as ranges up to the next major version, no development extra, a licence file, the
    pytest plugin's entry point."""
    declared = {line.split(";")[0].replace(" ", "") for line in requires("otel-revops") or []}
    assert "opentelemetry-sdk<2,>=1.45.2" in declared
    assert "opentelemetry-instrumentation<1,>=0.66b2" in declared
    info = metadata("otel-revops")
    assert info.get_all("Provides-Extra") == ["inngest"]
    assert "LICENSE" in (info.get_all("License-File") or [])
    assert "Typing :: Typed" in (info.get_all("Classifier") or [])
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "otel_revops"]
    assert plugin.value == "otel_revops.pytest_plugin"
