"""Gunicorn server hooks, usable as a config module or imported into your own::

    gunicorn -c python:vitalyst_otel.gunicorn -k uvicorn.workers.UvicornWorker -w 4 myapp:app

    # or, in your gunicorn.conf.py
    from vitalyst_otel.gunicorn import on_starting, post_fork, worker_exit

Every worker is its own instance: when telemetry was configured before the fork (``--preload``
with ``configure()`` at import, or the ``opentelemetry-instrument`` launcher), the SDK gives the
worker a fresh ``service.instance.id`` and fresh export threads, and our exporters open their own
connections. These hooks add what the fork cannot know: gunicorn's own log lines in the JSON
shape (gunicorn installs its handlers after configuration ran), our shutdown signal handler
back in front of the worker's (the worker resets its signals after the fork), and a bounded
flush whenever a worker or the master goes (exit, SIGINT/SIGQUIT, timeout abort).
"""

from __future__ import annotations

from vitalyst_otel import shutdown_signals
from vitalyst_otel.setup.configure import current, install_logging_only


def _reapply_logging() -> None:
    handle = current()
    if handle is not None:
        handle.reapply_logging()


def on_starting(server) -> None:
    """Master, before workers start: put gunicorn's loggers into the JSON shape. When nothing is
    configured in the master (workers configure themselves at import), only JSON logging is
    set up here; each worker's configure() then takes over its own handlers."""
    handle = current()
    if handle is None:
        install_logging_only()
    else:
        # Configured in the master (--preload with configure() at import, or the launcher): the
        # workers inherit the providers and export as themselves; the master exports nothing.
        handle.mute_this_process()
        _reapply_logging()


def post_fork(server, worker) -> None:
    """Worker, right after the fork (per-process telemetry state is renewed by an
    lifecycle registry's at-fork hook already; this puts the worker's log handlers back in shape)."""
    _reapply_logging()


def post_worker_init(worker) -> None:
    """Worker, signals set up: chain our shutdown handler in front of what the worker installed
    (uvicorn's worker resets SIGTERM to the default, which would end it without a flush)."""
    handle = current()
    if handle is not None:
        shutdown_signals.install(handle.shutdown)


def _shutdown() -> None:
    handle = current()
    if handle is not None:
        handle.shutdown()


def worker_exit(server, worker) -> None:
    """Worker, on its way out: flush what it still holds, within VITALYST_SHUTDOWN_TIMEOUT."""
    _shutdown()


def worker_int(worker) -> None:
    """Worker, SIGINT or SIGQUIT: flush before it stops."""
    _shutdown()


def worker_abort(worker) -> None:
    """Worker, SIGABRT (it ran past gunicorn's timeout): flush what it holds before it dies."""
    _shutdown()


def on_exit(server) -> None:
    """Master, on its way out: stop its providers within the bound (it exports nothing of its own)."""
    _shutdown()
