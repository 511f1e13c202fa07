"""The route template of a request, as the client sees it (``/api/v1/nodes/{node_id}``).

Why not ``scope["route"].path``: since FastAPI 0.137, ``include_router`` no longer copies each
route with ``prefix + route.path``; it adds one ``_IncludedRouter`` that matches through
per-inclusion contexts and then sets ``scope["route"]`` to the router's *original* route, whose
path lacks every prefix (``/{node_id}`` for ``/v1/nodes/{node_id}``). Mounts, for their part, only
leave the *matched* prefix in ``root_path`` (``/tenants/42``), never their template.

So the template is computed the way routing composes it: for each application a flat index is
built once (lazily, on its first request) by walking its routes like Starlette's router does,
composing Mount prefixes, descending through Host routes and mounted sub-applications, and
expanding FastAPI's included routers through ``fastapi.routing.iter_route_contexts`` (which
yields each route with its effective, prefixed path). At the end of a request the matched route
object (``scope["route"]``, else ``scope["endpoint"]``) is looked up in that index: one dictionary
lookup; only when the same route object is reachable under several templates (a router included
twice) are the candidates' compiled patterns tried against the path. A method mismatch (405) and
no match (404) give no template.
"""

from __future__ import annotations

import re

_MAX_MISSES = 1024
_MAX_APPS = 64


class _Entry:
    __slots__ = ("template", "pattern", "methods")

    def __init__(self, template: str, methods):
        self.template = template
        self.pattern: re.Pattern | None = None
        self.methods = frozenset(methods) if methods else None

    def matches(self, path: str) -> bool:
        if self.pattern is None:
            from starlette.routing import compile_path

            self.pattern = compile_path(self.template)[0]
        return self.pattern.match(path) is not None


def _expand(routes):
    """The routes of one router level, FastAPI's included routers replaced by their contexts."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI < 0.137 (or plain Starlette): include_router copied the routes
        iter_route_contexts = None
    for route in routes:
        if iter_route_contexts is not None and type(route).__name__ == "_IncludedRouter":
            yield from iter_route_contexts([route])
        else:
            yield route


def _kind(route) -> str:
    from starlette.routing import Host, Mount

    original = getattr(route, "original_route", route)
    if isinstance(original, Host):
        return "host"
    if isinstance(original, Mount):
        return "mount"
    return "route"


def build_index(routes, prefix: str = "", depth: int = 0, index: dict | None = None) -> dict:
    """``id(route object or endpoint) -> (object, [entries])`` for every leaf reachable from
    ``routes``; the object is kept so its id stays unique while the index lives."""
    index = {} if index is None else index
    if depth > 32:  # a mount cycle; real apps are a few levels deep
        return index
    for route in _expand(routes):
        kind = _kind(route)
        children = getattr(route, "routes", None) if kind != "route" else None
        if kind == "host":
            build_index(children or (), prefix, depth + 1, index)
            continue
        path_format = getattr(route, "path_format", None)
        if not isinstance(path_format, str):
            continue
        if kind == "mount" and children:
            build_index(children, prefix + path_format.removesuffix("/{path}"), depth + 1, index)
            continue
        entry = _Entry(prefix + path_format, getattr(route, "methods", None))
        # A mount of an app without routes (StaticFiles, any ASGI app) is a leaf: "/static/{path}".
        target = getattr(route, "app" if kind == "mount" else "endpoint", None)
        for obj in {id(obj): obj for obj in (getattr(route, "original_route", route), target)
                    if obj is not None}.values():
            index.setdefault(id(obj), (obj, []))[1].append(entry)
    return index


class RouteTemplates:
    """The per-application indexes; one instance is shared by every instrumented app."""

    def __init__(self):
        self._indexes: dict[int, tuple[object, dict]] = {}
        self._misses: set[int] = set()

    def _index(self, app, rebuild: bool = False) -> dict:
        held = self._indexes.get(id(app))
        if held is None or held[0] is not app or rebuild:
            routes = getattr(app, "routes", None)
            try:
                index = build_index(routes) if routes else {}
            except Exception:  # an exotic route type must never break a request
                index = {}
            if len(self._indexes) >= _MAX_APPS:
                self._indexes.clear()
            self._indexes[id(app)] = (app, index)
            return index
        return held[1]

    def resolve(self, scope: dict, app, entry_root_path: str) -> str | None:
        """The full template of the route that served ``scope``, or None (no match, 405, or an
        app we cannot index: then :func:`scope_template`'s best effort)."""
        matched = scope.get("route")
        held = self._indexes.get(id(app))
        if held is not None and held[0] is app and matched is not None:
            found = held[1].get(id(matched))  # the common case: one lookup, one entry
            if found is not None and found[0] is matched and len(found[1]) == 1:
                entry = found[1][0]
                if entry.methods is not None and scope.get("method") not in entry.methods:
                    return None
                return entry_root_path + entry.template if entry_root_path else entry.template
        if app is None or not hasattr(app, "routes"):
            return scope_template(scope, entry_root_path)
        endpoint = scope.get("endpoint")
        if matched is None and endpoint is None:
            return None
        index = self._index(app)
        key, entries = self._lookup(index, matched, endpoint)
        if entries is None and key is not None and key not in self._misses:
            # Routes added after the first request: index once more, then remember the miss.
            index = self._index(app, rebuild=True)
            key, entries = self._lookup(index, matched, endpoint)
            if entries is None and len(self._misses) < _MAX_MISSES:
                self._misses.add(key)
        if entries is None:
            return None
        entry = entries[0]
        if len(entries) > 1:
            path = scope.get("path", "")
            if entry_root_path and path.startswith(entry_root_path):
                path = path[len(entry_root_path):]
            entry = next((e for e in entries if e.matches(path)), entry)
        if entry.methods is not None and scope.get("method") not in entry.methods:
            return None
        return entry_root_path + entry.template

    @staticmethod
    def _lookup(index: dict, matched, endpoint):
        key = None
        for obj in (matched, endpoint):
            if obj is None:
                continue
            held = index.get(id(obj))
            if held is not None and held[0] is obj:
                return id(obj), held[1]
            key = id(obj) if key is None else key
        return key, None


def scope_template(scope: dict, entry_root_path: str) -> str | None:
    """Best effort for apps without a route table: the matched route's own path under the
    matched mount prefix."""
    route = scope.get("route")
    if route is None:
        return None
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    return f"{scope.get('root_path', '')}{path}"
