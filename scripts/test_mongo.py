"""Start or stop a SecantusDB daemon for a test run that outlives this script.

    python scripts/test_mongo.py start --pidfile F --urifile U   # prints the URI once it answers ping
    python scripts/test_mongo.py stop --pidfile F                # stops exactly the PID in F

Pass the URI to pytest as ``OTEL_REVOPS_TEST_MONGODB_URI`` so the whole session shares one daemon.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.mongo_server import MongoServer, stop_daemon_pid


def start(pidfile: Path, urifile: Path, port: int | None) -> int:
    """Start a detached daemon, wait until it answers ping, then write its PID and URI."""
    server = MongoServer(port, detach=True).start()
    pidfile.write_text(f"{server.pid}\n")
    urifile.write_text(f"{server.uri}\n")
    print(server.uri)
    return 0


def stop(pidfile: Path, timeout: float) -> int:
    """Stop the daemon whose PID is in ``pidfile`` and remove the file."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError) as error:
        print(f"test_mongo: no PID to stop in {pidfile}: {error}", file=sys.stderr)
        return 1
    if not stop_daemon_pid(pid, timeout=timeout):
        print(f"test_mongo: PID {pid} is not a running secantusd-py; nothing stopped", file=sys.stderr)
    pidfile.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run ``start`` or ``stop``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start a detached daemon on 127.0.0.1")
    start_parser.add_argument("--pidfile", type=Path, required=True)
    start_parser.add_argument("--urifile", type=Path, required=True)
    start_parser.add_argument("--port", type=int, default=None, help="default: a free port")
    stop_parser = commands.add_parser("stop", help="stop the daemon named by --pidfile")
    stop_parser.add_argument("--pidfile", type=Path, required=True)
    stop_parser.add_argument("--timeout", type=float, default=10.0, help="seconds before SIGKILL")
    args = parser.parse_args(argv)
    if args.command == "start":
        return start(args.pidfile, args.urifile, args.port)
    return stop(args.pidfile, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
