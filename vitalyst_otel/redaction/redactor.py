"""The :class:`Redactor`: one object that masks credentials in keys, values, URLs, query strings
and free text. Every string is cut to ``max_chars`` (VITALYST_REDACT_MAX_CHARS) before any
pattern runs, and every pattern is linear in its input (:mod:`.scanner`).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from vitalyst_otel.redaction.keys import KeyMatcher
from vitalyst_otel.redaction.scanner import MASK, QUERY_KEYS, clip, maybe_secret, scanner

DEFAULT_MAX_CHARS = 16384  # VITALYST_REDACT_MAX_CHARS
# Attribute keys whose values are URLs or query strings, scrubbed rather than masked.
URL_KEYS = frozenset({"url.full", "http.url", "http.target", "url.original", "server.url"})
QUERY_ATTRIBUTE_KEYS = frozenset({"url.query"})
_KEY_LIKE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_CACHED_CHARS = 256
_CACHE_LIMIT = 4096
MAX_DEPTH = 16  # nesting below this is masked whole
_PLAIN = (bool, int, float, type(None), datetime.date, datetime.time, datetime.timedelta, uuid.UUID)


class Redactor:
    def __init__(self, keys: Iterable[str] = (), max_chars: int = DEFAULT_MAX_CHARS):
        self.keys = frozenset(k.strip().lower() for k in keys if k.strip())
        self.max_chars = max_chars
        self.is_sensitive = KeyMatcher(self.keys)
        # Short strings repeat (span attributes, routes, user agents): their results are kept.
        self._texts: dict[str, str] = {}
        self._queries: dict[str, str] = {}  # the same bound, for query strings
        self._scan = scanner(self.is_sensitive, self.is_sensitive.words)

    # --- free text

    def text(self, text: str) -> str:
        """Free text with credentials masked (see :mod:`.scanner` for what is recognised)."""
        if len(text) > self.max_chars:
            return self._scan(clip(text, self.max_chars))
        texts = self._texts
        done = texts.get(text)
        if done is not None:
            return done
        done = self._scan(text) if maybe_secret(text) else text
        if len(text) <= _CACHED_CHARS:
            _keep(texts, text, done)
        return done

    # --- structured values

    def value(self, key: str, value: Any, _depth: int = 0) -> Any:
        """``value`` with credentials masked: whole under a sensitive key, otherwise walked
        through mappings, lists, tuples, sets, dataclasses and pydantic models (which come out
        as dicts and lists), strings scanned as free text, other objects by their ``repr``."""
        if self.is_sensitive(key):
            # An array attribute stays an array (http.request.header.authorization: ["[REDACTED]"]).
            return tuple(MASK for _ in value) if isinstance(value, (list, tuple)) else MASK
        if isinstance(value, str):
            if key in URL_KEYS:
                return self.url(value)
            if key in QUERY_ATTRIBUTE_KEYS:
                return self.query(value)
            return self.text(value)
        if isinstance(value, _PLAIN):
            return value
        if _depth >= MAX_DEPTH:
            return MASK
        depth = _depth + 1
        if isinstance(value, Mapping):
            return {k: self.value(str(k), v, depth) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            if len(value) == 2 and isinstance(value[0], str) and _KEY_LIKE.fullmatch(value[0]) \
                    and self.is_sensitive(value[0]):  # a (name, value) pair, as in a header list
                return type(value)((value[0], MASK)) if type(value) in (list, tuple) else [value[0], MASK]
            items = [self.value(key, v, depth) for v in value]
            return type(value)(items) if type(value) in (list, tuple) else items
        if isinstance(value, (set, frozenset)):
            return [self.value(key, v, depth) for v in value]
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.text(bytes(value).decode("utf-8", "replace"))
        fields = _fields_of(value)
        if fields is not None:
            return self.value(key, fields, _depth)
        try:
            shown = repr(value)
        except Exception:  # noqa: BLE001 - an object that cannot be shown is not shown
            return f"<unrepresentable {type(value).__name__}>"
        return self.text(shown)

    def mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.value(k, v) for k, v in data.items()}

    # --- URLs, paths and query strings

    def path(self, path: str) -> str:
        """A request path (also an absolute-form target such as ``http://user:pw@host/x``, and
        also when percent-encoded, as uvicorn's access line has it) with credentials masked."""
        cleaned = self.text(path)
        if "%" in path and cleaned == path:
            decoded = unquote(path)
            if decoded != path:
                masked = self.text(decoded)
                if masked != decoded:
                    return masked
        return cleaned

    def query(self, query: str) -> str:
        """A query string with the values of sensitive parameters masked (the rest scanned)."""
        if not query:
            return query
        if len(query) > _CACHED_CHARS:
            return self._query(query)
        queries = self._queries
        done = queries.get(query)
        if done is None:
            done = _keep(queries, query, self._query(query))
        return done

    def _query(self, query: str) -> str:
        query = clip(query, self.max_chars)
        if not self._may_name_secret(query):
            return self.text(query)
        return self._query_by_pairs(query)

    def _may_name_secret(self, query: str) -> bool:
        """Whether a parameter of ``query`` may have a sensitive name. Without ``%`` and ``+``
        the names are what ``parse_qsl`` would give (the text before ``=`` of each ``&`` part),
        so they are read without it; otherwise ``parse_qsl`` decides."""
        if "%" in query or "+" in query:
            return True
        query_key = self._query_key
        for part in query.split("&"):
            if part and query_key(part.partition("=")[0]):
                return True
        return False

    def _query_by_pairs(self, query: str) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(self._query_key(k) for k, _ in pairs):
            return self.text(query)
        return "&".join(
            f"{quote(k, safe='')}={MASK if self._query_key(k) else quote(self.text(v), safe='')}"
            for k, v in pairs)

    def _query_key(self, key: str) -> bool:
        return key.lower() in QUERY_KEYS or self.is_sensitive(key)

    def url(self, url: str) -> str:
        """A URL without user info and with sensitive query parameters masked."""
        url = clip(url, self.max_chars)
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = self.query(parts.query)
        path = self.text(parts.path)
        if netloc == parts.netloc and query == parts.query and path == parts.path:
            return url
        return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _fields_of(value: Any) -> dict | None:
    """The fields of a dataclass instance or a pydantic model, else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    dump = getattr(type(value), "model_dump", None)
    if callable(dump):
        try:
            return value.model_dump()
        except Exception:  # noqa: BLE001
            return None
    return None


def _keep(cache: dict[str, str], key: str, done: str) -> str:
    """``done`` stored under ``key`` in a results cache bounded to :data:`_CACHE_LIMIT` entries
    (emptied when full: the repeated values come back at once)."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = done
    return done
