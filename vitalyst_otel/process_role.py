"""Which processes are instances: only those that serve requests export telemetry.

Under ``uvicorn --workers N`` and ``uvicorn --reload`` the launcher's sitecustomize also runs in
the supervisor (or reloader) and in multiprocessing's resource tracker; under gunicorn the master
configures before it forks (the launcher, or ``--preload`` with ``configure()`` at import). Each
of those would otherwise report as one more instance of the service, with runtime metrics and log
records of its own. Decided from the command line, before the server parses it:

- ``helper``: multiprocessing's resource tracker or fork server: no telemetry at all;
- ``supervisor``: a uvicorn that will spawn its serving processes (``--workers`` > 1,
  ``--reload``, or UVICORN_WORKERS / WEB_CONCURRENCY / UVICORN_RELOAD): JSON logging only, its
  spawned children configure themselves;
- ``serving``: everything else, including multiprocessing's spawned children (uvicorn's workers).

A gunicorn master (gunicorn's command line, a parent that is no gunicorn; or wherever the
``on_starting`` hook of :mod:`vitalyst_otel.gunicorn` runs) keeps its providers, which its forked
workers inherit, but exports nothing from its own pid (``Telemetry.mute_this_process``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

HELPER, SUPERVISOR, SERVING = "helper", "supervisor", "serving"
_HELPER_MODULES = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _program(argv: Sequence[str]) -> str:
    name = os.path.basename(argv[0]) if argv else ""
    if name == "__main__.py" and len(argv[0]) > 12:
        name = os.path.basename(os.path.dirname(argv[0]))
    return name


def _option(argv: Sequence[str], option: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def _more_than_one(value: str | None) -> bool:
    return value is not None and value.strip().isdigit() and int(value) > 1


def role(orig_argv: Sequence[str], argv: Sequence[str], environ: Mapping[str, str]) -> str:
    command = " ".join(orig_argv)
    if any(module in command for module in _HELPER_MODULES):
        return HELPER
    if "multiprocessing.spawn" in command or "--multiprocessing-fork" in orig_argv:
        return SERVING
    if _program(argv) == "uvicorn":
        reload = "--reload" in argv or environ.get("UVICORN_RELOAD", "").lower() in ("1", "true")
        workers = _option(argv, "--workers") or environ.get("UVICORN_WORKERS") or environ.get("WEB_CONCURRENCY")
        if reload or _more_than_one(workers):
            return SUPERVISOR
    return SERVING


def _parent_command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:  # not Linux, or gone: assume an ordinary parent
        return ""


def _runs_gunicorn(command: str) -> bool:
    """The program of ``command`` is gunicorn: ``gunicorn ...``, ``python .../bin/gunicorn ...``
    or ``python -m gunicorn ...`` (not merely a command that mentions it, such as a test's name)."""
    words = command.split()
    if words[:1] and os.path.basename(words[0]) == "gunicorn":
        return True
    if len(words) > 1 and os.path.basename(words[0]).startswith("python"):
        return os.path.basename(words[1]) == "gunicorn" or words[1:3] == ["-m", "gunicorn"]
    return False


def is_forking_master(argv: Sequence[str], parent_command: str | None = None) -> bool:
    """A gunicorn master: gunicorn's command line, and a parent that is no gunicorn (a worker's
    parent is the master)."""
    if _program(argv) != "gunicorn":
        return False
    if parent_command is None:
        parent_command = _parent_command(os.getppid())
    return not _runs_gunicorn(parent_command)
