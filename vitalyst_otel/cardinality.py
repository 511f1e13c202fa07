"""Attribute values from declared sets, so no metric grows a series per user, node id or message.

A :class:`DeclaredValues` maps any value outside its declared set to ``other``; the first few
distinct undeclared values are each named once in a warning, the rest are only counted
(:attr:`undeclared`). :class:`FirstSeen` bounds open-ended values such as exception types: the
first ``limit`` distinct values are kept, later ones become ``other``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

OTHER = "other"
_WARNED_VALUES = 10
_log = logging.getLogger("vitalyst_otel")


class DeclaredValues:
    def __init__(self, attribute: str, values: Iterable[str]):
        self.attribute = attribute
        self.values = frozenset(values)
        self.undeclared = 0
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def declare(self, values: Iterable[str]) -> None:
        self.values = self.values | frozenset(values)

    def __call__(self, value) -> str:
        text = str(value)
        if text in self.values:
            return text
        with self._lock:
            self.undeclared += 1
            if len(self._warned) < _WARNED_VALUES and text not in self._warned:
                self._warned.add(text)
                more = " (further undeclared values are only counted)" if len(self._warned) == _WARNED_VALUES else ""
                _log.warning("%r is not a declared value of %s (declared: %s); recorded as %r%s.",
                             text[:100], self.attribute, ", ".join(sorted(self.values)), OTHER, more)
        return OTHER


class FirstSeen:
    def __init__(self, attribute: str, limit: int = 20):
        self.attribute = attribute
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._warned = False

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
            if not self._warned:
                self._warned = True
                _log.warning("%s has more than %d distinct values; further ones are recorded as %r.",
                             self.attribute, self.limit, OTHER)
        return OTHER
