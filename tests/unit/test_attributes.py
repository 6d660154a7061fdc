"""Properties made OpenTelemetry attributes, and the records' fixed ids."""

from __future__ import annotations

import math
import multiprocessing
import re

from otel_revops.attributes import as_attributes, new_record_uid


def test_plain_properties_are_kept_in_the_same_dict() -> None:
    """ASCII keys with ASCII strings, bools, 64-bit ints and finite floats are taken as they are, in place."""
    properties = {"entity": "contacts", "ok": True, "chunk": 3, "ratio": 0.5}
    attributes = as_attributes(properties, 100)
    assert attributes is properties
    assert attributes == {"entity": "contacts", "ok": True, "chunk": 3, "ratio": 0.5}


def test_other_values_are_made_valid() -> None:
    """Values OTel cannot carry are converted; long strings are cut with their marker."""
    attributes = as_attributes(
        {"big": 2**70, "nan": math.nan, "lone": "a\ud800b", "long": "x" * 200, "nested": {"k": (1, None)}, "none": None},
        100,
    )
    assert attributes["big"] == str(2**70)
    assert attributes["nan"] == "nan"
    assert attributes["lone"] == "a\ufffdb"
    assert re.fullmatch(r"x+…\[truncated \d+ characters\]", attributes["long"])
    assert len(attributes["long"]) <= 100
    assert attributes["nested"] == {"k": [1, None]}
    assert attributes["none"] is None


def test_keys_that_must_change_give_a_new_dict() -> None:
    """A key that is not text, or too long, becomes text within the limit; the other entries are converted too."""
    properties = {7: "seven", "k" * 50: "long key", "plain": 2**70}
    attributes = as_attributes(properties, 20)
    assert attributes is not properties
    assert list(attributes) == ["7", next(k for k in attributes if k.startswith("k")), "plain"]
    assert all(len(key) <= 20 for key in attributes)
    assert attributes["plain"] == str(2**70)


def _child_uid(queue: multiprocessing.Queue[str]) -> None:
    queue.put(new_record_uid(1_700_000_000.0))


def test_record_uids_are_object_ids_unique_per_process() -> None:
    """24 hex digits: the second, a per-process random part (new in a forked child), a counter."""
    first, second = new_record_uid(1_700_000_000.5), new_record_uid(1_700_000_000.5)
    assert re.fullmatch(r"[0-9a-f]{24}", first)
    assert first[:8] == f"{1_700_000_000:08x}"
    assert first != second and first[8:18] == second[8:18]
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_child_uid, args=(queue,))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(30)
    assert from_child[8:18] != first[8:18]
