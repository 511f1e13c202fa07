"""BENCHMARK BASELINE ONLY: the redactor as it was before issue 10 (vitalyst_otel/redaction.py at
commit 9df080a), kept verbatim so ``make bench`` can show the new redactor's cost next to it.
It backtracks quadratically on long runs of letters; never use it outside benchmarks/.

Credentials never leave the process: masking of keys, URLs, query strings and free text.

A key is sensitive when it, or one of its words (split on anything that is not a letter or a
digit), is a configured sensitive name: ``password``, ``X-Api-Key``, ``db.password`` and
``http.request.header.authorization`` all are. The mask is a fixed string, so no part of a secret
(not its length, not its first characters) survives. The collector's redaction processor repeats
this as a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "[REDACTED]"

# Query parameters that carry credentials whatever the configured keys (signed URLs included).
QUERY_KEYS = (
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "code",
)
# Attribute keys whose values are URLs or query strings, scrubbed rather than masked.
URL_KEYS = frozenset({"url.full", "http.url", "http.target", "url.original", "server.url"})
QUERY_ATTRIBUTE_KEYS = frozenset({"url.query"})

_WORDS = re.compile(r"[^a-z0-9]+")
_CACHE_LIMIT = 4096


class Redactor:
    def __init__(self, keys: Iterable[str]):
        self.keys = frozenset(k.strip().lower() for k in keys if k.strip())
        self._words = frozenset(_WORDS.sub("_", k).strip("_") for k in self.keys)
        self._query_keys = self.keys | frozenset(QUERY_KEYS)
        self._cache: dict[str, bool] = {}
        alternatives = "|".join(sorted((re.escape(k) for k in self.keys), key=len, reverse=True))
        # key=value, key: value, "key": "value" in free text; Bearer/Basic credentials.
        self._text = re.compile(
            rf"""(?ix)
            (?P<key>\b(?:{alternatives})\b["']?\s*[=:]\s*["']?)(?P<value>(?:(?:bearer|basic|digest|token)\s+)?[^\s"'&,;}}]+)
            |(?P<scheme>\b(?:bearer|basic)\s+)(?P<cred>[A-Za-z0-9\-._~+/]+=*)
            |(?P<url>[a-z][a-z0-9+.\-]*://)(?P<userinfo>[^\s/@:]+(?::[^\s/@]*)?)@
            """
        ) if alternatives else None

    def is_sensitive(self, key: str) -> bool:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        lowered = key.lower()
        result = lowered in self.keys
        if not result:
            joined = _WORDS.sub("_", lowered).strip("_")
            parts = joined.split("_")
            result = joined in self._words or any(part in self._words for part in parts)
            if not result:
                # multi-word keys such as api_key or x_api_key inside a longer name
                result = any(f"_{word}_" in f"_{joined}_" for word in self._words if "_" in word)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = result
        return result

    def value(self, key: str, value: Any) -> Any:
        """``value`` with every sensitive key masked, recursively through mappings and lists."""
        if self.is_sensitive(key):
            return MASK
        if key in URL_KEYS and isinstance(value, str):
            return self.url(value)
        if key in QUERY_ATTRIBUTE_KEYS and isinstance(value, str):
            return self.query(value)
        if isinstance(value, Mapping):
            return {k: self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(key, v) if isinstance(v, (Mapping, list, tuple)) else v
                               for v in value)
        if isinstance(value, str):
            return self.text(value)
        return value

    def mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.value(k, v) for k, v in data.items()}

    def query(self, query: str) -> str:
        """A query string with the values of sensitive parameters masked."""
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k.lower() in self._query_keys or self.is_sensitive(k) for k, _ in pairs):
            return query
        return "&".join(
            f"{quote(k, safe='')}={MASK if (k.lower() in self._query_keys or self.is_sensitive(k)) else quote(v, safe='')}"
            for k, v in pairs
        )

    def url(self, url: str) -> str:
        """A URL without user info and with sensitive query parameters masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = self.query(parts.query)
        if netloc == parts.netloc and query == parts.query:
            return url
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def text(self, text: str) -> str:
        """Free text with ``key=value`` credentials, bearer tokens and URL passwords masked."""
        if self._text is None or not text:
            return text
        # Every pattern needs one of these characters (or a Bearer/Basic scheme): most messages
        # have none and skip the full expression.
        if "=" not in text and ":" not in text and "@" not in text and "earer" not in text \
                and "asic " not in text and "EARER" not in text and "ASIC " not in text:
            return text
        return self._text.sub(_mask_match, text)


def _mask_match(match: re.Match) -> str:
    if match.group("key") is not None:
        return match.group("key") + MASK
    if match.group("scheme") is not None:
        return match.group("scheme") + MASK
    return match.group("url") + MASK + "@"


class BaselineRedactor(Redactor):
    """The old implementation behind today's call sites (which also ask for ``path()`` and pass
    a size cap the old one did not have)."""

    def __init__(self, keys, max_chars=None):
        super().__init__(keys)

    def path(self, path: str) -> str:
        return self.text(path)


def install_baseline() -> None:
    """Make configure() build the old redactor (call before configure())."""
    from benchmarks.apps import Unavailable

    import importlib

    try:
        configure = importlib.import_module("vitalyst_otel.setup.configure")
    except ImportError as exc:  # pragma: no cover - the set-up moved again
        raise Unavailable(f"vitalyst_otel.setup.configure is gone ({exc}); update benchmarks/old_redaction.py") from exc
    if not hasattr(configure, "Redactor"):
        raise Unavailable("configure() no longer builds its Redactor in vitalyst_otel.setup.configure")
    configure.Redactor = BaselineRedactor
