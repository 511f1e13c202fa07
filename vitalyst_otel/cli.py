"""``vitalyst-otel``: the command line.

    vitalyst-otel doctor [--send] [--json]     effective configuration, conflicts, a test send
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vitalyst-otel", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="show the effective configuration and problems")
    doctor.add_argument("--send", action="store_true", help="send one span, metric and log record")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")

    args = parser.parse_args(argv)
    from vitalyst_otel.doctor import run

    return run(send=args.send, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
