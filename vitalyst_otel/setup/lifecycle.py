"""The process's one registry: what this process configured, and what runs at fork and at exit.

Everything vitalyst_otel keeps per process lives here, nowhere else: the configured handle, the
parts the public facades reach (audit trail, security monitor), the default health registry, the
business instruments, the test capture, and whether the heap was frozen. One ``os.register_at_fork``
hook and one ``atexit`` hook run the callbacks registered with :meth:`Lifecycle.on_fork` and
:meth:`Lifecycle.on_exit`, in registration order. A bound method is held weakly, so an object that
is gone takes its hook with it.

:meth:`Lifecycle.isolated` gives a test a clean registry and puts the previous one back after.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_log = logging.getLogger("vitalyst_otel")


def _reference(callback: Callable[[], Any]) -> Callable[[], Callable[[], Any] | None]:
    if hasattr(callback, "__self__") and hasattr(callback, "__func__"):
        return weakref.WeakMethod(callback)
    return lambda: callback


@dataclass
class _State:
    handle: Any = None  # the Telemetry of this process's configure()
    audit: Any = None  # AuditTrail, for vitalyst_otel.audit.record
    security: Any = None  # SecurityMonitor, for vitalyst_otel.security.event
    health: Any = None  # the default HealthRegistry (created on first use)
    meters: Any = None  # the business instruments (created on first use)
    capture: Any = None  # the in-memory sinks of vitalyst_otel.testing
    heap_frozen: bool = False  # gc.freeze() ran in this process
    fork_hooks: list = field(default_factory=list)
    exit_hooks: list = field(default_factory=list)


class Lifecycle:
    def __init__(self) -> None:
        self._state = _State()
        self.lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_state"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_state", "lock"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._state, name, value)

    def get_or_create(self, name: str, factory: Callable[[], Any]) -> Any:
        """The part called ``name``, created by ``factory`` on first use."""
        with self.lock:
            value = getattr(self._state, name)
            if value is None:
                value = factory()
                setattr(self._state, name, value)
            return value

    def on_fork(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` in the child after every fork (state the fork copied but must renew)."""
        self._state.fork_hooks.append(_reference(callback))

    def on_exit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` at interpreter exit."""
        self._state.exit_hooks.append(_reference(callback))

    def _run(self, hooks: list, what: str) -> None:
        for reference in list(hooks):
            callback = reference()
            if callback is None:
                hooks.remove(reference)
                continue
            try:
                callback()
            except Exception:  # noqa: BLE001 - one hook must not stop the others
                _log.debug("%s hook failed", what, exc_info=True)

    def after_fork(self) -> None:
        self.lock = threading.RLock()
        self._state.heap_frozen = False
        self._run(self._state.fork_hooks, "after-fork")

    def at_exit(self) -> None:
        self._run(self._state.exit_hooks, "at-exit")

    @contextmanager
    def isolated(self) -> Iterator[Lifecycle]:
        """For tests: a clean registry inside the block (its handle shut down at the end), the
        previous one back after it."""
        previous = self._state
        self._state = _State()
        try:
            yield self
        finally:
            handle = self._state.handle
            if handle is not None:
                handle.shutdown(2.0)
            self._state = previous
            if previous.handle is not None:
                previous.handle._restore()


lifecycle = Lifecycle()
os.register_at_fork(after_in_child=lifecycle.after_fork)
atexit.register(lifecycle.at_exit)
