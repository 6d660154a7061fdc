"""``python -m benchmarks [--quick] [--json PATH] [--mongo-uri URI]``: print ratio tables.

Starts a SecantusDB daemon for the MongoDB scenarios unless ``--mongo-uri`` (or
``OTEL_REVOPS_TEST_MONGODB_URI``) names a server; ``--no-mongo`` skips them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import calling_thread


@contextlib.contextmanager
def _mongo(uri: str | None, enabled: bool) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    if uri:
        yield uri
        return
    from tests.support.mongo_server import MongoServer

    with MongoServer() as server:
        yield server.uri


_CALL_COLUMNS = (
    ("ns_per_call", "thread ns"),
    ("ratio", "thread ratio"),
    ("process_ns_per_call", "process ns"),
    ("process_ratio", "process ratio"),
    ("wall_ns_per_call", "wall ns"),
)


def _print_table(title: str, rows: dict[str, dict[str, Any]], columns: tuple[tuple[str, str], ...] = ()) -> None:
    print(f"\n{title}")
    columns = columns or tuple((c, c) for c in sorted({key for row in rows.values() for key in row}))
    print(f"{'scenario':<34}" + "".join(f"{label:>16}" for _, label in columns))
    for name, row in rows.items():
        print(f"{name:<34}" + "".join(f"{row.get(key, ''):>16}" for key, _ in columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--mongo-uri", default=os.environ.get("OTEL_REVOPS_TEST_MONGODB_URI"))
    parser.add_argument("--no-mongo", action="store_true", help="skip the MongoDB scenarios")
    args = parser.parse_args(argv)

    with _mongo(args.mongo_uri, not args.no_mongo) as uri:
        database = f"bench_{uuid.uuid4().hex[:8]}"
        scenarios = calling_thread.run(args.quick, (uri, database) if uri else None)
        _print_table(
            "Cost per call, 5 properties: calling thread and whole process, each a median of ratios to the stdlib "
            "StreamHandler → /dev/null measured beside it (each scenario in a process of its own)",
            scenarios,
            _CALL_COLUMNS,
        )
        mongo_results: dict[str, dict[str, float]] = {}
        if uri:
            try:
                from benchmarks import mongo
            except ImportError:
                mongo = None  # type: ignore[assignment]
            if mongo is not None:
                mongo_results = mongo.run(uri, args.quick)
                _print_table("MongoDB throughput (same server, same process)", mongo_results)
            import pymongo

            pymongo.MongoClient(uri).drop_database(database)
    if args.json:
        args.json.write_text(json.dumps({"scenarios": {**scenarios, **mongo_results}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
