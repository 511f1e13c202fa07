"""Telemetry is flushed when the process is told to stop (SIGTERM, SIGINT), under every server.

Servers handle these signals themselves and then often end the process in a way that skips
``atexit``: uvicorn finishes its graceful shutdown, puts back the handlers it found, and raises
the signal again, so the process dies of it (exit status -15). Three hooks cover the servers we
support (docs/logging.md, "Shutdown", has the table):

* :class:`ChainedHandler`, installed by ``configure()`` in the main thread (and again by our
  gunicorn ``post_worker_init`` hook, after the worker reset its signals): when what it replaced
  is the default disposition (the process would just die), it shuts telemetry down within
  VITALYST_SHUTDOWN_TIMEOUT, puts the default back and raises the signal again, so the exit
  status stays the one the process would have had. Any other previous handler (the
  application's, a server's, Python's KeyboardInterrupt) is called exactly as before, and
  ignoring stays ignoring: a handler of the user's is never swallowed.
* the ASGI lifespan shutdown: the HTTP middleware flushes once the app has finished its shutdown
  and before the server is told so (``lifespan_flush``): what requests produced is out before the
  server re-raises or exits.
* gunicorn's worker and master exit hooks (:mod:`vitalyst_otel.gunicorn`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable

_log = logging.getLogger("vitalyst_otel")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ChainedHandler:
    """A signal handler in front of ``previous``; see the module documentation."""

    def __init__(self, signum: int, previous, shutdown: Callable[[], object]):
        self.signum = signum
        self.previous = previous
        self.shutdown = shutdown

    def __call__(self, signum: int, frame) -> None:
        previous = self.previous
        if callable(previous):
            previous(signum, frame)
            return
        if previous == signal.SIG_IGN:
            return
        # SIG_DFL (or a disposition Python does not know, None): the process is about to die.
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - never stand between the process and its signal
            _log.debug("shutdown on signal %s failed", signum, exc_info=True)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


def install(shutdown: Callable[[], object], signals: tuple[int, ...] = SIGNALS) -> list[int]:
    """Put a :class:`ChainedHandler` in front of the current handler of each signal, once (a
    second call keeps the one in place). Only the main thread can; elsewhere nothing happens.
    Returns the signals now covered."""
    if threading.current_thread() is not threading.main_thread():
        _log.debug("not in the main thread: shutdown signal handlers are left to the lifespan and exit hooks")
        return []
    covered = []
    for signum in signals:
        try:
            current = signal.getsignal(signum)
            if not isinstance(current, ChainedHandler):
                signal.signal(signum, ChainedHandler(signum, current, shutdown))
            covered.append(signum)
        except (OSError, ValueError, RuntimeError):  # a signal this platform cannot catch
            _log.debug("cannot install a handler for signal %s", signum, exc_info=True)
    return covered


def uninstall(signals: tuple[int, ...] = SIGNALS) -> None:
    """Put back what our handlers replaced, where ours is still the current handler."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in signals:
        current = signal.getsignal(signum)
        if isinstance(current, ChainedHandler):
            signal.signal(signum, current.previous if current.previous is not None else signal.SIG_DFL)


async def lifespan_flush(flush: Callable[[], object]) -> None:
    """Run ``flush`` (bounded by its own timeout) off the event loop when there is an asyncio
    loop (the server's other tasks keep running), else on the caller's thread."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # another async library (trio): its loop waits, it is shutting down anyway
        loop = None
    try:
        if loop is None:
            flush()
        else:
            await loop.run_in_executor(None, flush)
    except Exception:  # noqa: BLE001 - the app's shutdown must complete whatever happens here
        _log.warning("Flushing telemetry at lifespan shutdown failed; exit hooks flush what is left.",
                     exc_info=True)
