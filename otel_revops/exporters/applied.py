"""Pure functions telling, from an execution document's ``logs``, whether an update whose answer was lost
had been applied: entries compared as the server gives them back, the update's entries found in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import bson
from bson.codec_options import CodecOptions

__all__ = ["entries_hold", "normalised_entry"]


def normalised_entry(entry: object, options: CodecOptions[Any]) -> bytes | None:
    """``entry`` as the BSON a read of it gives back (datetimes in milliseconds, NaN equal to itself), or
    None when it is not a document."""
    if not isinstance(entry, Mapping):
        return None
    stored = bson.decode(bson.encode(entry, codec_options=options), codec_options=options)
    return bson.encode(stored, codec_options=options)


def entries_hold(stored: list[bytes | None], sent: list[bytes | None], *, sliced: bool) -> bool:
    """Whether the entries one update pushed (``sent``, oldest first) are in an execution document's
    ``logs`` (``stored``; later pushes may follow them): its last entry, preceded by its earlier ones —
    all of them, or, when the array's front may have been sliced off (``sliced``), all that are left."""
    for end in range(len(stored) - 1, -1, -1):
        if stored[end] != sent[-1]:
            continue
        start = end + 1 - len(sent)
        if stored[max(0, start) : end + 1] == sent[max(0, -start) :] and (start >= 0 or sliced):
            return True
    return False
