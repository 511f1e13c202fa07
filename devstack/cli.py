"""``python -m devstack up|down|status``: the local stack of real backends.

    python -m devstack up [--state-dir DIR] [--port NAME=PORT ...] [--free-ports]
                           [--scrape-interval 5s] [--alert-relay-port 9095]
                           [--alert-token-dir DIR] [--alert-group-wait 1s] [--timeout 90] [--json]
    python -m devstack status [--state-dir DIR] [--json]
    python -m devstack down [--state-dir DIR] [--json]

The state directory defaults to .state/stack in the working directory ($VITALYST_STACK_DIR
overrides it); ``status`` and ``down`` find everything they need in it. Exit status: 0 when the
command did what it says (``status``: every component running and healthy), 1 otherwise, 2 when
a needed program is missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from devstack.binaries import MissingPart, repo_root
from devstack.stack import ALERT_RELAY_PORT, Ports, Stack

DEFAULT_STATE_DIR = ".state/stack"


def _port(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=PORT, got {text!r}")
    return name.replace("-", "_"), int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path,
                        default=Path(os.environ.get("VITALYST_STACK_DIR", DEFAULT_STATE_DIR)),
                        help="where state, logs and data live (default: $VITALYST_STACK_DIR or .state/stack)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    up = parser.add_argument_group("up")
    up.add_argument("--port", type=_port, action="append", default=[], metavar="NAME=PORT",
                    help="override one port; names: " + ", ".join(f.name for f in dataclasses.fields(Ports)))
    up.add_argument("--free-ports", action="store_true", help="pick free ports instead of the defaults")
    up.add_argument("--scrape-interval", default=os.environ.get("VITALYST_STACK_SCRAPE_INTERVAL", "5s"),
                    help="Prometheus scrape and rule evaluation interval (default 5s)")
    up.add_argument("--alert-relay-port", type=int,
                    default=int(os.environ.get("VITALYST_STACK_ALERT_RELAY_PORT", ALERT_RELAY_PORT)),
                    help=f"port on 127.0.0.1 of the webhook relay Alertmanager sends to (default {ALERT_RELAY_PORT}, "
                         "as in prometheus/alertmanager.yml)")
    up.add_argument("--alert-token-dir", type=Path, default=os.environ.get("VITALYST_STACK_ALERT_TOKEN_DIR"),
                    help="directory with the <receiver>.token files Alertmanager sends "
                         "(default: <state-dir>/alertmanager-secrets, missing tokens generated)")
    up.add_argument("--alert-group-wait", default=None, metavar="DURATION",
                    help="replace every route's group_wait and group_interval (default: as shipped)")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for health (default 90)")
    up.add_argument("--repo", type=Path, default=None, help="the vitalyst-otel checkout (default: found from cwd)")
    return parser


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(status, indent=2))
        return
    print(f"stack in {status['state_dir']}")
    for name, c in status["components"].items():
        state = "healthy" if c["healthy"] else ("running, not healthy" if c["running"] else "stopped")
        print(f"  {name:<13} {state:<22} pid {c['pid'] or '-':<8} {c['url']}")
    for name, value in status.get("endpoints", {}).items():
        print(f"  {name:<30} {value}")
    for note in status.get("notes", []):
        print(f"  note: {note}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = args.state_dir.resolve()
    try:
        if args.command == "up":
            ports = Ports.free() if args.free_ports else Ports()
            ports = ports.with_overrides(dict(args.port))
            stack = Stack(state_dir, repo_root(args.repo), ports, args.scrape_interval,
                          alert_relay_port=args.alert_relay_port, alert_token_dir=args.alert_token_dir,
                          alert_group_wait=args.alert_group_wait)
            _print_status(stack.up(timeout=args.timeout), args.json)
            return 0
        stack = Stack.load(state_dir)
        if stack is None:
            empty = {"state_dir": str(state_dir), "components": {}, "notes": ["no stack started from here"]}
            if args.command == "down":
                print(json.dumps({"stopped": []}) if args.json else f"no stack in {state_dir}")
                return 0
            _print_status(empty, args.json)
            return 1
        if args.command == "down":
            stopped = stack.down()
            print(json.dumps({"stopped": stopped}) if args.json else f"stopped: {', '.join(stopped) or 'nothing'}")
            return 0
        status = stack.status()
        _print_status(status, args.json)
        return 0 if all(c["healthy"] for c in status["components"].values()) else 1
    except MissingPart as exc:
        print(f"python -m devstack: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError) as exc:
        print(f"python -m devstack {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
