"""The one lifecycle registry (issue 15): hooks in registration order, one failing hook never
stops the others, a bound method is held weakly, isolated() gives a clean registry and puts the
previous one back; it is the package's only fork and exit hook."""

import gc
import os
import re
from pathlib import Path

from vitalyst_otel.setup.lifecycle import Lifecycle, lifecycle

PACKAGE = Path(__file__).parents[3] / "vitalyst_otel"


def test_hooks_run_in_order_and_a_failing_one_does_not_stop_the_rest():
    registry = Lifecycle()
    ran = []
    registry.on_fork(lambda: ran.append("first"))
    registry.on_fork(lambda: 1 / 0)
    registry.on_fork(lambda: ran.append("third"))
    registry.on_exit(lambda: ran.append("exit"))
    registry.after_fork()
    assert ran == ["first", "third"]
    registry.at_exit()
    assert ran == ["first", "third", "exit"]


def test_a_bound_method_is_held_weakly_and_its_hook_goes_with_it():
    registry = Lifecycle()
    calls = []

    class Part:
        def renew(self):
            calls.append(self)

    part = Part()
    registry.on_fork(part.renew)
    registry.after_fork()
    assert calls == [part]
    calls.clear()
    del part
    gc.collect()
    registry.after_fork()
    assert calls == [] and registry.fork_hooks == []


def test_get_or_create_makes_a_part_once():
    registry = Lifecycle()
    made = []
    first = registry.get_or_create("health", lambda: made.append(1) or object())
    assert registry.get_or_create("health", object) is first and made == [1]


def test_isolated_gives_a_clean_registry_and_puts_the_previous_one_back():
    marker = object()
    before = lifecycle.capture
    lifecycle.capture = marker
    try:
        with lifecycle.isolated() as inner:
            assert inner.capture is None and inner.handle is None
            inner.capture = "inside"
        assert lifecycle.capture is marker
    finally:
        lifecycle.capture = before


def test_the_registry_is_the_only_fork_and_exit_hook_of_the_package():
    hooks = re.compile(r"os\.register_at_fork|atexit\.register")
    holders = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                     if hooks.search(path.read_text(encoding="utf-8")))
    assert holders == [os.path.join("setup", "lifecycle.py")]
