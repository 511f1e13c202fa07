"""The query redaction's cache and its pre-check (which reads the parameter names without
``parse_qsl`` when it can) give, for every query, what the parsing path gives on its own; and the
cache stays bounded whatever queries arrive."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS
from vitalyst_otel.redaction import MASK, Redactor
from vitalyst_otel.redaction.redactor import _CACHE_LIMIT, _CACHED_CHARS
from vitalyst_otel.redaction.scanner import clip

SECRET = "Zq9vE1nds7Kp"
# Names and pieces a query is built from: sensitive names (built-in, configured, signed-URL ones,
# written in case and with encodings), ordinary ones, and the characters that change parsing.
NAMES = ["page", "q", "token", "Token", "access_token", "tok%65n", "to+ken", "api_key", "apiKey",
         "sig", "X-Amz-Signature", "code", "password", "tenant_pin", "max_tokens", "", "a b",
         "%zz", "x%3Dy", "next", "redirect"]
VALUES = ["", "2", SECRET, f"Bearer {SECRET}", "a+b", "%20x", "%", "=", "&", "a=b", f"token={SECRET}",
          "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "AKIAIOSFODNN7EXAMPLE", "ü", "/home?x=1"]
pair = st.tuples(st.sampled_from(NAMES) | st.text(max_size=8), st.sampled_from(VALUES) | st.text(max_size=12))
separator = st.sampled_from(["&", "&&", ";", "&=", "=&"])


@st.composite
def queries(draw) -> str:
    parts = draw(st.lists(pair, max_size=6))
    seps = [draw(separator) for _ in parts]
    text = "".join(f"{s}{k}={v}" if draw(st.booleans()) else f"{s}{k}" for s, (k, v) in zip(seps, parts))
    return text.lstrip("&") if draw(st.booleans()) else text


def parsed_only(redactor: Redactor, query: str) -> str:
    """The query redaction without cache or pre-check: every query through ``parse_qsl``."""
    return redactor._query_by_pairs(clip(query, redactor.max_chars)) if query else query


@settings(max_examples=600, deadline=None)
@given(queries())
def test_every_query_comes_out_as_the_parsing_path_gives_it(query):
    cached = Redactor((*DEFAULT_REDACT_KEYS, "tenant_pin"))
    reference = Redactor((*DEFAULT_REDACT_KEYS, "tenant_pin"))
    expected = parsed_only(reference, query)
    assert cached.query(query) == expected
    assert cached.query(query) == expected  # the second time from the cache


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_as_a_query_comes_out_as_the_parsing_path_gives_it(query):
    assert Redactor(DEFAULT_REDACT_KEYS).query(query) == parsed_only(Redactor(DEFAULT_REDACT_KEYS), query)


def test_sensitive_values_are_masked_whether_the_name_is_encoded_or_not():
    redactor = Redactor(DEFAULT_REDACT_KEYS)
    for query in (f"page=2&token={SECRET}", f"page=2&tok%65n={SECRET}", f"X-Amz-Signature={SECRET}",
                  f"page=2;x=1&api_key={SECRET}"):
        for _ in range(2):
            masked = redactor.query(query)
            assert SECRET not in masked and MASK in masked, query
    assert redactor.query("page=2&size=50") == "page=2&size=50"


def test_a_secret_inside_an_ordinary_value_is_still_scanned():
    redactor = Redactor(DEFAULT_REDACT_KEYS)
    for _ in range(2):
        assert SECRET not in redactor.query(f"q=password:{SECRET}&page=1")


def test_the_cache_stays_bounded_under_ever_new_queries():
    redactor = Redactor(DEFAULT_REDACT_KEYS)
    for i in range(3 * _CACHE_LIMIT):
        redactor.query(f"page={i}&token={SECRET}{i}")
    assert 0 < len(redactor._queries) <= _CACHE_LIMIT
    long_query = "q=" + "x" * _CACHED_CHARS
    redactor._queries.clear()
    assert redactor.query(long_query) == long_query
    assert long_query not in redactor._queries  # long queries are not kept
    held = sum(len(k) + len(v) for k, v in redactor._queries.items())
    assert held == 0
