"""Activate a library instrumentor when the application imports its library, not before.

Loading an instrumentor imports the library it instruments: contrib's openai-v2 instrumentor
imports all of ``openai`` (about 540 modules and 25 MiB), the httpx one ``httpx`` with the
command-line tools it pulls in. An application that never imports the library paid that at
start-up for nothing. So an instrumentor whose library is installed but not imported yet is
activated by a post-import hook (wrapt's, a ``sys.meta_path`` finder; wrapt comes with
opentelemetry-instrumentation): the first ``import openai`` loads and runs it, right after the
library's own module has executed and before the importer sees it. One whose library is already
imported, or that instruments the standard library (no ``instruments`` requirement), or whose
libraries cannot be told from its distribution's metadata, is activated at once.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from importlib import metadata

_log = logging.getLogger("vitalyst_otel")
INSTRUMENTS_EXTRAS = ("instruments", "instruments-any")


# "name [extras] (version)" and the marker after ";", when the marker is nothing but
# ``extra == "..."`` (what instrumentation packages write): read without packaging, which costs
# about 0.5 MiB of RSS in every process. Anything else is left to packaging.
_SIMPLE = re.compile(r"""^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?:\(?[<>=!~][^;@]*)?"""
                     r"""\s*;\s*extra\s*==\s*(["'])([^"']*)\2\s*$""")


def _normalized_extra(extra: str) -> str:
    return re.sub(r"[-_.]+", "-", extra).lower()


def _requirements(dist) -> list[str]:
    """The distribution names an instrumentation package declares it instruments."""
    names = []
    for line in getattr(dist, "requires", None) or ():
        simple = _SIMPLE.match(line)
        if simple:
            if _normalized_extra(simple.group(3)) in INSTRUMENTS_EXTRAS:
                names.append(simple.group(1))
        elif ";" in line and "extra" in line:  # a marker naming no extra: a base requirement
            names.extend(_parsed_requirement(line))
    return names


def _parsed_requirement(line: str) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return []
    marker = requirement.marker  # in the extra: true with it, false without (not a base requirement)
    if marker is not None and any(marker.evaluate({"extra": extra}) for extra in INSTRUMENTS_EXTRAS) \
            and not marker.evaluate({"extra": ""}):
        return [requirement.name]
    return []


class VersionConflict(Exception):
    """The installed library's version is not one the instrumentor supports."""


def _top_level_modules(name: str) -> set[str]:
    """The top-level import names of an installed distribution (empty when not installed)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return set()
    listed = dist.read_text("top_level.txt")
    if listed:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    modules = set()
    for line in (dist.read_text("RECORD") or "").splitlines():  # text, not dist.files: thousands of paths
        path = line.split(",", 1)[0]
        first, sep, _ = path.partition("/")
        if first in ("", "..", "__pycache__") or first.endswith((".dist-info", ".data")):
            continue
        if sep:
            modules.add(first)
        elif first.endswith((".py", ".so", ".pyd")):
            modules.add(first.split(".")[0])
    return modules or {name.replace("-", "_").lower()}


def trigger_modules(entry_point) -> set[str]:
    """The top-level modules whose import activates this instrumentor (empty: activate now).
    An instrumentation package covering several libraries (httpx's covers httpx and httpx2, one
    entry point each) is narrowed to the library its entry point is named after."""
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return set()
    modules: set[str] = set()
    for name in _requirements(dist):
        modules |= _top_level_modules(name)
    own = str(getattr(entry_point, "name", "")).replace("-", "_")
    return {own} if own in modules else modules


def _initializing(module_name: str | None) -> bool:
    import sys

    module = sys.modules.get(module_name) if module_name else None
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


class _Activation:
    """Runs one instrumentor's activation once, whichever of its modules is imported first.
    When the app imports the instrumentor's own module and that imports the library, the
    library's hook fires while the module is half-executed: the module's own hook, once it has
    executed, runs the activation then."""

    def __init__(self, name: str, module: str | None, activate: Callable[[], object]):
        self.name = name
        self.module = module
        self.activate = activate
        self.lock = threading.Lock()
        self.done = False
        self.waiting = False

    def __call__(self, module=None) -> None:
        from_own_module = getattr(module, "__name__", None) == self.module  # executed, flag still set
        with self.lock:
            if self.done:
                return
            if from_own_module and not self.waiting:  # imported alone: its library's import decides
                return
            if not from_own_module and _initializing(self.module):
                self.waiting = True
                return
            self.done = True
        try:
            self.activate()
        except (ModuleNotFoundError, VersionConflict) as exc:
            _log.debug("Not instrumenting %s: %s", self.name, exc)
        except Exception as exc:  # noqa: BLE001 - an instrumentor must never break the app's import
            _log.warning("Instrumenting %s failed (%s: %s); it runs uninstrumented.",
                         self.name, type(exc).__name__, exc)


def activate_on_import(entry_point, activate: Callable[[], object]) -> bool:
    """Run ``activate`` (load and ``instrument()`` the entry point) now if its library is already
    imported or cannot be told (its errors reach the caller), else when the application first
    imports it (its errors are reported and swallowed: the app's import goes on). Returns True
    when the activation was deferred."""
    import sys

    try:
        modules = trigger_modules(entry_point)
    except Exception:  # noqa: BLE001 - odd metadata: behave as without deferral, activate now
        modules = set()
    if not modules or any(module in sys.modules for module in modules):
        activate()
        return False
    from wrapt import register_post_import_hook

    name = str(getattr(entry_point, "name", entry_point))
    own_module = getattr(entry_point, "module", None)
    activation = _Activation(name, own_module, activate)
    for module in sorted(modules | ({own_module} if own_module else set())):
        register_post_import_hook(activation, module)
    _log.debug("Instrumenting %s when the application imports %s", name, " or ".join(sorted(modules)))
    return True
