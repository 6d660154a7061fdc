"""Secret redaction, applied before any output — console included.

Values under keys that look secret (``password``, ``token``, ``X-API-Key``, ``private_key`` …) become
``[REDACTED]`` at any depth; keys are compared normalised (case, ``-``, ``_``, ``.`` and spaces do
not matter: ``xApiKey``, ``X-Api-Key`` and ``x_api_key`` are one key). Inside text, secrets are
masked keeping enough to debug: ``password=***``, ``Bearer ***``, ``Basic ***``,
``mongodb://user:***@host``, ``AKIA****************``, a JWT's payload and signature, secret URL
query parameters, PEM private key bodies, and card numbers (by issuer prefix, length and Luhn
check, so ids, timestamps, phone numbers and amounts are left alone).

Structured values are walked wherever they appear — properties, message arguments, a dict given as
the message, sequences of ``(name, value)`` pairs, dataclasses and objects with a ``__dict__``
(pydantic models included) — without calling their ``__repr__``. Pure functions over plain data;
decisions per key are cached, since keys repeat.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_REDACT_KEYS", "MASK", "REDACTED", "Redactor", "mask_url_credentials"]

REDACTED = "[REDACTED]"
#: What replaces a secret inside text.
MASK = "***"
#: Key patterns (regular expressions, searched case-insensitively in the key as written and in its
#: normalised form: lower case, without ``-``, ``_``, ``.`` and spaces).
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "pwd$",
    "secret",
    "token",
    "apikey",
    "api_key",
    "authorization",
    "auth$",
    "cookie",
    "session",
    "credential",
    "privatekey",
    "accesskey",
)

_MAX_DEPTH = 32
# Arguments left as they are: their text is redacted in the message they are formatted into.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_NORMALISE = str.maketrans("", "", "-_. ")
_SECRET_WORDS = r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential)"

# scheme://user:password@host — the password may hold an unescaped "@": the authority ends at the last one.
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]+):[^/?#\s]*@")
_Replacement = str | Callable[[re.Match[str]], str]
_KEYWORDS = frozenset({"pass", "pwd", "secret", "token", "key", "credential"})
# Each detector runs only when its text holds one of its words (lower-cased): most text holds none.
_DETECTORS: tuple[tuple[frozenset[str], re.Pattern[str], _Replacement], ...] = (
    (frozenset({"-----begin"}), re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?-----END \1-----"),
     rf"-----BEGIN \1-----{MASK}-----END \1-----"),
    (frozenset({"://"}), _URL_CREDENTIALS, rf"\1:{MASK}@"),
    (frozenset({"auth"}),
     re.compile(r"(?i)\b(authorization[\"']?\s*[:=,]\s*[\"']?(?:(?:basic|bearer|digest|negotiate|token)\s+)?)[^\s,;\"']+"),
     rf"\1{MASK}"),
    (frozenset({"bearer"}), re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\1{MASK}"),
    (frozenset({"basic"}), re.compile(r"\b(Basic\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{6,}={0,2}"), rf"\1{MASK}"),
    (_KEYWORDS | {"sig", "auth"},
     re.compile(rf"(?i)([?&][\w.-]*(?:{_SECRET_WORDS}|sig|signature|auth)=)[^&#\s]+"), rf"\1{MASK}"),
    (_KEYWORDS,
     re.compile(rf"""(?i)(["']?\b[\w.-]*{_SECRET_WORDS}[\w.-]*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}}\])]+)"""),
     lambda m: _mask_value(m[1], m[2])),
    (frozenset({"akia", "asia"}), re.compile(r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b"), lambda m: str(m[1])[:4] + "*" * 16),
    (frozenset({"eyj"}), re.compile(r"\b(eyJ[A-Za-z0-9_-]{4,})\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+"),
     rf"\1.{MASK}.{MASK}"),
)  # fmt: skip
# Looked for in the lower-cased text (plain substring searches: cheaper than any regular expression).
_WORDS = tuple(sorted(frozenset().union(*(words for words, _, _ in _DETECTORS))))
_CARD_DIGITS = 13
_DIGITS = b"0123456789"
# Runs of digits with single spaces or dashes between them; each is judged by _mask_card.
_CARD = re.compile(r"[0-9]{4}(?:[ -]?[0-9]){9,15}")
# Text redacted recently, by its value: property values and messages repeat.
_CACHE_LIMIT = 4096
_CACHEABLE_LENGTH = 512


def _mask_value(prefix: str, value: str) -> str:
    """``key=value`` with the value masked, its quotes kept; a value redacted already stays as it is."""
    quote = value[0] if value[0] in "\"'" else ""
    bare = value.strip("\"'")
    if bare == MASK or (bare.startswith("[") and REDACTED.startswith(bare)):
        return prefix + value
    return f"{prefix}{quote}{MASK}{quote}"


def mask_url_credentials(text: str) -> str:
    """``scheme://user:password@host`` → ``scheme://user:***@host``."""
    if "://" not in text or "@" not in text:
        return text
    return _URL_CREDENTIALS.sub(rf"\1:{MASK}@", text)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    """Issuer prefix and length (Visa, Mastercard, American Express, Discover, JCB, Diners), then Luhn."""
    length = len(digits)
    prefix2, prefix4 = int(digits[:2]), int(digits[:4])
    issued = (
        (digits[0] == "4" and length in (13, 16, 19))
        or ((51 <= prefix2 <= 55 or 2221 <= prefix4 <= 2720) and length == 16)
        or (prefix2 in (34, 37) and length == 15)
        or ((digits.startswith("6011") or prefix2 == 65 or 644 <= int(digits[:3]) <= 649) and 16 <= length <= 19)
        or (3528 <= prefix4 <= 3589 and 16 <= length <= 19)
        or ((300 <= int(digits[:3]) <= 305 or prefix2 in (36, 38)) and length == 14)
    )
    return issued and _luhn(digits)


def _mask_card(match: re.Match[str]) -> str:
    text = match[0]
    digits = text.replace(" ", "").replace("-", "")
    start, end = match.span()
    subject = match.string
    joined = (start > 0 and subject[start - 1].isdigit()) or (end < len(subject) and subject[end].isdigit())
    if joined or not _is_card(digits):
        return text
    return "*" * (len(digits) - 4) + digits[-4:]


class Redactor:
    """Redacts properties, message arguments and text.

    ``keys``: key patterns (default :data:`DEFAULT_REDACT_KEYS`); ``patterns``: extra regular
    expressions whose matches in text become ``[REDACTED]``; ``allow_keys``: keys never redacted
    (compared normalised), for a key the patterns would hide.
    """

    def __init__(
        self, keys: Iterable[str] = DEFAULT_REDACT_KEYS, patterns: Iterable[str] = (), allow_keys: Iterable[str] = ()
    ) -> None:
        key_list = [k for k in keys if k]
        self._keys = re.compile("|".join(f"(?:{k})" for k in key_list), re.IGNORECASE) if key_list else None
        pattern_list = [p for p in patterns if p]
        self._patterns = re.compile("|".join(f"(?:{p})" for p in pattern_list)) if pattern_list else None
        self._allowed = frozenset(k.lower().translate(_NORMALISE) for k in allow_keys if k)
        self._decisions: dict[str, bool] = {}
        self._texts: dict[str, str] = {}

    def is_secret_key(self, key: str) -> bool:
        """Whether values under ``key`` are redacted."""
        decision = self._decisions.get(key)
        if decision is None:
            normalised = key.lower().translate(_NORMALISE)
            decision = (
                self._keys is not None
                and normalised not in self._allowed
                and bool(self._keys.search(key) or self._keys.search(normalised))
            )
            if len(self._decisions) < 10_000:
                self._decisions[key] = decision
        return decision

    def text(self, text: str) -> str:
        """Mask the secrets the detectors find in ``text``, and the extra patterns."""
        known = self._texts.get(text)
        if known is not None:
            return known
        masked = text
        lowered = text.lower()
        found: set[str] | None = None
        for word in _WORDS:
            if word in lowered:
                found = found or set()
                found.add(word)
        if found is not None:
            for words, pattern, replacement in _DETECTORS:
                if not words.isdisjoint(found):
                    masked = pattern.sub(replacement, masked)
        if len(text) >= _CARD_DIGITS:
            encoded = text.encode("utf-8", "surrogatepass")
            if len(encoded) - len(encoded.translate(None, _DIGITS)) >= _CARD_DIGITS:
                masked = _CARD.sub(_mask_card, masked)
        if self._patterns is not None:
            masked = self._patterns.sub(REDACTED, masked)
        if len(text) <= _CACHEABLE_LENGTH:
            if len(self._texts) >= _CACHE_LIMIT:
                self._texts.clear()
            self._texts[text] = masked
        return masked

    def properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``properties`` with secret keys' values and secrets inside values redacted."""
        return self.redact_properties(dict(properties))

    def redact_properties(self, properties: dict[str, Any]) -> dict[str, Any]:
        """:meth:`properties`, in place: ``properties`` itself, with its values redacted."""
        decisions = self._decisions
        for key, value in properties.items():
            # Inline fast path for the common case: a known, harmless key with a scalar value.
            kind = type(value)
            if decisions.get(key) is False and (kind is int or kind is bool or kind is float or value is None):
                continue
            if kind is str and decisions.get(key) is False:
                text = self.text(value)
                if text is not value:
                    properties[key] = text
            else:
                properties[key] = self.value(value, key)
        return properties

    def arguments(self, args: Any) -> Any:
        """A logging call's ``args`` (a tuple, or one mapping for ``%(name)s``) with their secrets redacted."""
        if isinstance(args, tuple):
            if all(type(arg) in _PLAIN for arg in args):
                return args  # the usual call: nothing to walk, nothing to copy
            return tuple(arg if type(arg) in _PLAIN else self.value(arg) for arg in args)
        return self.value(args)

    def value(self, value: Any, key: Any = None) -> Any:
        """``value`` (found under ``key``) with its secrets redacted: containers are copied, an object
        that holds a secret field becomes text naming its type and fields."""
        return self._value(key, value, frozenset())

    def _value(self, key: Any, value: Any, seen: frozenset[int]) -> Any:
        if isinstance(key, str) and self.is_secret_key(key):
            return REDACTED
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is int or kind is float or kind is bool or value is None or kind is bytes:
            return value
        if id(value) in seen:
            return "<cycle>"
        if len(seen) >= _MAX_DEPTH:
            return "<too deep>"
        inner = seen | {id(value)}
        try:
            if isinstance(value, Mapping):
                return {k: self._value(k, v, inner) for k, v in list(value.items())}
            if isinstance(value, (list, tuple)):
                return [self._item(v, inner) for v in value]
            fields = _fields(value)
        except Exception:  # noqa: BLE001 - a broken container is rendered safely later
            return value
        if fields is None or not any(isinstance(k, str) and self.is_secret_key(k) for k in fields):
            return value
        shown = ", ".join(f"{k}={self._value(k, v, inner)!r}" for k, v in fields.items())
        return f"{type(value).__name__}({shown})"

    def _item(self, item: Any, seen: frozenset[int]) -> Any:
        """A sequence's item; a ``(name, value)`` pair (a header list) is judged by its name."""
        if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
            return (item[0], self._value(item[0], item[1], seen | {id(item)}))
        return self._value(None, item, seen)


def _fields(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass instance or of an object with a ``__dict__`` (never calling its code)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict) and not isinstance(value, type):
        return {k: v for k, v in attributes.items() if isinstance(k, str) and not k.startswith("_")}
    return None
