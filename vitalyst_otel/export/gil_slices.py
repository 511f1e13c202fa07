"""Hand the GIL back to the application between slices of an export thread's work.

An export worker redacts and encodes a whole batch (up to 512 spans or log records, several
milliseconds of CPU) in pure Python. A request thread that wakes up meanwhile (a socket became
readable) has to wait for the GIL until the interpreter forces a switch, which it does only after
``sys.getswitchinterval()`` (5 ms): every GIL hand-off of a request served during such a burst can
cost it that much, which is what the tail latency shows. Iterating a batch through
:func:`yielding` sleeps briefly (a real sleep, which releases the GIL long enough for a waiting
thread to take it; ``sleep(0)`` often gets it straight back) whenever the worker has run for
:data:`SLICE_S` since its last pause. The work, its order and its output are unchanged; the batch
takes a little longer in wall time on the worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
SLICE_S = 0.0005  # CPU run between pauses: a tenth of the default switch interval
PAUSE_S = 0.0001


def yielding(items: Iterable[T], slice_s: float | None = None) -> Iterator[T]:
    """``items``, one by one, pausing every ``slice_s`` seconds (default :data:`SLICE_S`)."""
    budget = SLICE_S if slice_s is None else slice_s
    clock = time.perf_counter
    last = clock()
    for item in items:
        now = clock()
        if now - last >= budget:
            time.sleep(PAUSE_S)
            last = clock()
        yield item
