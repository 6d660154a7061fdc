"""Secret redaction, applied before any output — console included.

Values under keys that look secret (``password``, ``token``, ``authorization`` …) become
``[REDACTED]`` at any depth; credentials inside URLs (``mongodb://user:pass@host`` →
``mongodb://user:***@host``) and bearer tokens are masked in messages and string values.
Pure functions over plain data; decisions per key are cached, since keys repeat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_REDACT_KEYS", "REDACTED", "Redactor", "mask_url_credentials"]

REDACTED = "[REDACTED]"
#: Key fragments (regular expressions, matched case-insensitively anywhere in the key).
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "session",
    "credential",
)
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]+):[^@/\s]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
_MAX_DEPTH = 32


def mask_url_credentials(text: str) -> str:
    """``scheme://user:password@host`` → ``scheme://user:***@host``."""
    if "://" not in text or "@" not in text:
        return text
    return _URL_CREDENTIALS.sub(r"\1:***@", text)


class Redactor:
    """Redacts properties and text. ``keys``: key patterns (default :data:`DEFAULT_REDACT_KEYS`);
    ``patterns``: extra regular expressions whose matches in text become ``[REDACTED]``."""

    def __init__(self, keys: Iterable[str] = DEFAULT_REDACT_KEYS, patterns: Iterable[str] = ()) -> None:
        key_list = [k for k in keys if k]
        self._keys = re.compile("|".join(f"(?:{k})" for k in key_list), re.IGNORECASE) if key_list else None
        pattern_list = [p for p in patterns if p]
        self._patterns = re.compile("|".join(f"(?:{p})" for p in pattern_list)) if pattern_list else None
        self._decisions: dict[str, bool] = {}

    def is_secret_key(self, key: str) -> bool:
        """Whether values under ``key`` are redacted."""
        decision = self._decisions.get(key)
        if decision is None:
            decision = bool(self._keys and self._keys.search(key))
            if len(self._decisions) < 10_000:
                self._decisions[key] = decision
        return decision

    def text(self, text: str) -> str:
        """Mask URL credentials, bearer tokens and the extra patterns in ``text``."""
        if "://" in text and "@" in text:
            text = _URL_CREDENTIALS.sub(r"\1:***@", text)
        if ("earer" in text or "EARER" in text) and _BEARER.search(text):
            text = _BEARER.sub(rf"\1{REDACTED}", text)
        if self._patterns is not None:
            text = self._patterns.sub(REDACTED, text)
        return text

    def properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``properties`` with secret keys' values and secrets inside strings redacted."""
        redacted: dict[str, Any] = {}
        decisions = self._decisions
        for key, value in properties.items():
            # Inline fast path for the common case: a known, harmless key with a scalar value.
            kind = type(value)
            if decisions.get(key) is False and (kind is int or kind is bool or kind is float or value is None):
                redacted[key] = value
            elif kind is str and decisions.get(key) is False:
                redacted[key] = self.text(value)
            else:
                redacted[key] = self._value(key, value, frozenset())
        return redacted

    def _value(self, key: Any, value: Any, seen: frozenset[int]) -> Any:
        if isinstance(key, str) and self.is_secret_key(key):
            return REDACTED
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is int or kind is float or kind is bool or value is None:
            return value
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in seen:
                return "<cycle>"
            if len(seen) >= _MAX_DEPTH:
                return "<too deep>"
            inner = seen | {id(value)}
            if isinstance(value, Mapping):
                try:
                    return {k: self._value(k, v, inner) for k, v in list(value.items())}
                except Exception:  # noqa: BLE001 - a broken mapping is rendered safely later
                    return value
            return [self._value(None, v, inner) for v in value]
        return value
