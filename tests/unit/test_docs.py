"""Every public name and setting is documented."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import otel_revops
from otel_revops.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_and_variable_is_in_the_readme() -> None:
    """The README's settings table names every setting and its environment variables."""
    readme = (ROOT / "README.md").read_text()
    for field in fields(Settings):
        assert f"`{field.name}`" in readme, field.name
        for env in field.metadata["spec"].envs:
            assert env in readme, env


def test_every_public_name_has_a_docstring_and_is_in_the_readme() -> None:
    """Each name in otel_revops.__all__ is documented in code and mentioned in the README."""
    readme = (ROOT / "README.md").read_text()
    for name in otel_revops.__all__:
        obj = getattr(otel_revops, name)
        assert (obj.__doc__ or "").strip(), name
        assert name in readme, name
