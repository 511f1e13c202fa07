"""The free-text scanner: masks credentials in messages, exception text, header dumps and URLs.

It recognises:

- ``key=value``, ``key: value``, ``"key": "value"``, ``('key', 'value')`` and
  ``<key>value</key>`` where ``key`` is sensitive (:mod:`.keys`). A quoted value ends at its
  closing quote; an unquoted one where the value syntax of its context ends (:func:`_value_end`),
  so the rest of the line survives: in a URL query at ``&``, ``#``, whitespace or a quote; in
  ``key=value`` text at whitespace, a quote, or a ``,``/``;``/``&`` that ends the word or starts
  the next ``name=`` field (so ``Password=p;w@d;Database=app`` keeps ``;w@d`` in the value), and
  a ``key=`` value takes one more word when a ``name=`` field follows it (``password=pa ss
  user=ana``, a logfmt value with a space); after a JSON or tuple key also at ``}``, ``]``, ``)``. A
  line that begins with ``Header:``, and every ``Cookie:`` or ``Authorization:`` value, is masked
  to the end of its line (every cookie in it; ``Digest`` parameters);
- ``scheme://userinfo@host`` (``redis://:pw@host`` and passwords containing ``@`` too);
- ``Bearer <token>`` and ``Basic <credentials>``;
- well-known token formats (:mod:`.patterns`) and PEM private key blocks.

Each kind has its own pattern, and each pattern starts with what the engine can skip to in C:
key-value pairs are found from their separator, in the reversed text, so only separators are
visited and only those after a sensitive-looking word come back to Python; URLs from ``://``;
tokens from their first letter, with a look-behind so a run is only tried from its start. Every
quantifier is possessive and every value is scanned once: the work is linear in the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from vitalyst_otel.redaction.keys import QUALIFIERS
from vitalyst_otel.redaction.patterns import ALNUM_PREFIXES, PEM_BEGIN, TOKENS, trie

MASK = "[REDACTED]"
# Query parameters that carry credentials whatever the configured keys (signed URLs included).
QUERY_KEYS = frozenset({
    "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "x-goog-signature", "x-goog-credential", "code", "sas",
})
# Keys whose value is a list of name=value pairs (cookies): masked whole, to the end of the line.
WHOLE_LINE_KEYS = frozenset({"cookie", "set-cookie", "cookies", "set_cookie", "setcookie"})

# Keys whose value is a header value to the end of its line after ``:`` (schemes and parameters).
AUTHORIZATION_KEYS = ("authorization",)
_FIELD = r"""["']?[A-Za-z_][A-Za-z0-9_.\-]{0,255}+["']?[ \t]*+[=:]"""
_FIELD_AHEAD = re.compile(_FIELD)
# The characters that may end an unquoted value, per context.
_QUERY_STOP = re.compile(r"""[\s&#"'<>]""")
_WORD_STOP = re.compile(r"""[\s"',;&]""")
_BRACKETED_STOP = re.compile(r"""[\s"',;&)\]}]""")
# One more word (no quote in it) right before the next ``name=`` field: part of the value before it.
_ONE_MORE_WORD = re.compile(rf"""[ \t]++(?!{_FIELD})[^\s"']++(?=[ \t&,;|]++{_FIELD})""")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9\-]{0,31}+[ \t]++(?=\S)")
_LINE_END = re.compile(r"[\r\n]")
_KEY_REVERSED = re.compile(r"[A-Za-z0-9_.\-]{1,256}+")
_USERINFO = re.compile(r"://(?P<auth>(?:[^\s/?#\"'<>\\@]*+@)++)")
_SCHEME_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:(?:[Bb]earer|BEARER)[ \t]++(?P<bearer>[A-Za-z0-9\-._~+/]++=*+)"
    r"|(?:[Bb]asic|BASIC)[ \t]++(?P<basic>[A-Za-z0-9+/]{8,}+={0,2}+))")
_SHORTEST_TOKEN = 13  # eyJ + 4 + . + 4 + .
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# Text containing none of these has no key-value pair, URL, scheme credential or formatted token
# (except the letters-and-digits formats, checked separately).
_TRIGGERS = ("=", ":", "@", "<", ",", "-", "_", ".", "earer", "EARER", "asic", "ASIC")


def key_pattern(words: Iterable[str]) -> re.Pattern:
    """Separators followed, in the reversed text, by a reversed word a sensitive key can end with
    (or a qualifier such as ``_hash``, or a number: :class:`.keys.KeyMatcher` decides)."""
    reversed_words = trie(sorted({w[::-1] for w in (*words, *QUALIFIERS)}))
    return re.compile(
        rf"""(?P<sep>=|:|>=|>|,(?=[ \t]*+["']))[ \t]*+["']?+(?P<key>[0-9]|(?i:{reversed_words}))""", re.X)


def _basic_credentials(value: str) -> bool:
    """``Basic authentication`` is prose; ``Basic YWxhZGRpbjpvcGVuc2VzYW1l`` is a credential."""
    return any(c.isdigit() or c in "+/=" for c in value) or not value[1:].islower()


class _Lines:
    """Line ends of one text, found once each (values that run to the end of their line)."""

    __slots__ = ("text", "end")

    def __init__(self, text: str):
        self.text = text
        self.end = -1

    def end_after(self, position: int) -> int:
        if position > self.end:
            found = _LINE_END.search(self.text, position)
            self.end = found.start() if found else len(self.text)
        return self.end


def _quoted_end(text: str, start: int, quote: str, lines: _Lines) -> int:
    """Index of the closing ``quote`` of a string that starts at ``start`` (the end of the line
    when it is not closed)."""
    limit = lines.end_after(start)
    position = start
    while True:
        found = text.find(quote, position, limit)
        if found < 0:
            return limit
        backslashes = 0
        while found - backslashes - 1 >= start and text[found - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return found
        position = found + 1


def _opening(text: str, start: int) -> int:
    """Where an unquoted value that starts after ``start`` (just after the separator) begins."""
    n = len(text)
    while start < n and text[start] in " \t":
        start += 1
    if start + 1 < n and text[start] == "b" and text[start + 1] in "\"'":
        start += 1  # a bytes repr: b'...'
    return start


def _word_end(text: str, start: int, stops: re.Pattern) -> int:
    """End of an unquoted value in running text: at whitespace or a quote; at ``,`` ``;`` ``&``
    when the word ends there or the next ``name=`` field starts after it (else the character is
    part of the value, as in a connection-string password ``p;w@d``)."""
    n = len(text)
    position = start
    while True:
        found = stops.search(text, position)
        if found is None:
            return n
        stop = found.start()
        if text[stop] not in ",;&":
            return stop
        after = stop + 1
        if after >= n or text[after] in " \t\r\n\"'" or _FIELD_AHEAD.match(text, after):
            return stop
        position = after


def _value_end(text: str, start: int, context: str, lines: _Lines) -> int:
    """Where the unquoted value that starts at ``start`` ends, in its ``context``:

    - ``line``: a header value (``Name: value``, every cookie of a ``Cookie:`` header);
    - ``query``: a URL query parameter (``?key=`` or ``&key=``): at ``&``, ``#``, whitespace, a
      quote or an angle bracket;
    - ``bracketed``: after a quoted JSON/dict key or in a tuple: also at ``}``, ``]``, ``)``;
    - ``word``: ``key: value`` in running text (prose, a header mid-line);
    - ``field``: ``key=value`` in running text (logfmt, CLI flags, env lines, prose): a word, and
      the next word too when a ``name=`` field follows that one (``password=pa ss user=ana``:
      a logfmt value with a space).
    """
    if context == "line":
        return lines.end_after(start)
    if context == "query":
        stop = _QUERY_STOP.search(text, start)
        return stop.start() if stop else len(text)
    end = _word_end(text, start, _BRACKETED_STOP if context == "bracketed" else _WORD_STOP)
    if context == "field" and end < len(text) and text[end] in " \t":
        more = _ONE_MORE_WORD.match(text, end)
        if more is not None:
            return more.end()
    return end


def _starts_line(text: str, position: int) -> bool:
    """Whether only spaces and tabs stand between the last line break (or the start) and ``position``."""
    while position > 0 and text[position - 1] in " \t":
        position -= 1
    return position == 0 or text[position - 1] in "\r\n"


def _context(text: str, key: str, key_start: int, key_end: int, sep: str) -> str:
    """The value syntax that applies after ``key`` (see :func:`_value_end`)."""
    lowered = key.lower()
    if lowered in WHOLE_LINE_KEYS:
        return "line"
    before = text[key_start - 1] if key_start else "\n"
    quoted = before in "\"'" and text[key_end:key_end + 1] == before
    if sep == ",":
        return "bracketed"
    if sep == ":":
        if quoted:
            return "bracketed"
        if lowered.endswith(AUTHORIZATION_KEYS) or _starts_line(text, key_start):
            return "line"
        return "word"
    if before in "?&":
        return "query"
    return "field"


def _value_span(text: str, start: int, context: str, lines: _Lines, key: str) -> tuple[int, int]:
    """(start, end) of the value that begins at ``start`` (just after the separator)."""
    start = _opening(text, start)
    if start < len(text) and text[start] in "\"'":
        return start + 1, _quoted_end(text, start + 1, text[start], lines)
    if context == "field" and key.lower().endswith(AUTHORIZATION_KEYS):
        scheme = _SCHEME.match(text, start)  # ``authorization=token abc``: scheme and credentials
        if scheme is not None:
            return start, _value_end(text, scheme.end(), context, lines)
    return start, _value_end(text, start, context, lines)


def scanner(is_sensitive: Callable[[str], bool], words: Iterable[str]) -> Callable[[str], str]:
    """The scanning function for one key matcher; ``words`` are the last key parts it knows."""
    keys = key_pattern([*words, *(k.rsplit("-", 1)[-1] for k in QUERY_KEYS)])

    def key_values(text: str, spans: list[tuple[int, int]]) -> None:
        n = len(text)
        backwards = text[::-1]
        found = []
        for match in keys.finditer(backwards):
            found.append((n - match.start("sep"), n - match.start("key"), match.group("sep")))
        masked_until = -1
        lines = _Lines(text)
        for value_start, key_end, sep in reversed(found):
            if value_start <= masked_until:
                continue
            tail = _KEY_REVERSED.match(backwards, n - key_end)
            if tail is None:
                continue
            key_start = key_end - len(tail.group())
            key = text[key_start:key_end]
            before = text[key_start - 1] if key_start else " "
            if not (is_sensitive(key) or (before in "?&;" and key.lower() in QUERY_KEYS)):
                continue
            if sep == ">":
                if before != "<":
                    continue
                stop = text.find("<", value_start)
                start, stop = value_start, (n if stop < 0 else stop)
            else:
                if sep == "," and before not in "\"'" and text[key_end:key_end + 1] not in ("'", '"'):
                    continue
                context = _context(text, key, key_start, key_end, sep)
                start, stop = _value_span(text, value_start, context, lines, key)
            if stop > start:
                spans.append((start, stop))
                masked_until = stop

    def scan(text: str) -> str:
        spans: list[tuple[int, int]] = []
        if "=" in text or ":" in text or ">" in text or ("," in text and ("'" in text or '"' in text)):
            key_values(text, spans)
        if "://" in text and "@" in text:
            for match in _USERINFO.finditer(text):
                start, end = match.start("auth"), match.end("auth") - 1
                if end > start:
                    spans.append((start, end))
        if "earer" in text or "EARER" in text or "asic" in text or "ASIC" in text:
            for match in _SCHEME_CREDENTIALS.finditer(text):
                if match.group("bearer") is not None:
                    spans.append(match.span("bearer"))
                elif _basic_credentials(match.group("basic")):
                    spans.append(match.span("basic"))
        if len(text) >= _SHORTEST_TOKEN and TOKENS.search(text) is not None:
            spans.extend(match.span() for match in TOKENS.finditer(text))
        if "-----BEGIN" in text:
            _private_keys(text, spans)
        return _apply(text, spans) if spans else text

    return scan


def _private_keys(text: str, spans: list[tuple[int, int]]) -> None:
    position = 0
    while True:
        match = PEM_BEGIN.search(text, position)
        if match is None:
            return
        closing = text.find("-----END", match.end())
        end = len(text) if closing < 0 else closing
        spans.append((match.end(), end))
        tail = text.find("-----", end + 8) if closing >= 0 else -1
        position = len(text) if tail < 0 else tail + 5


def _apply(text: str, spans: list[tuple[int, int]]) -> str:
    spans.sort()
    out: list[str] = []
    keep = 0
    for start, end in spans:
        if out and start <= keep:  # overlaps (or touches) the previous mask: extend it
            keep = max(keep, end)
            continue
        out.append(text[keep:start])
        out.append(MASK)
        keep = end
    out.append(text[keep:])
    return "".join(out)


def maybe_secret(text: str) -> bool:
    """False when ``text`` cannot hold anything the scanner masks (the common case, decided with
    a few substring tests)."""
    for trigger in _TRIGGERS:
        if trigger in text:
            return True
    if "A" in text:
        for prefix in ALNUM_PREFIXES:
            if prefix in text:
                return True
    return "SK" in text or "dapi" in text


def clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters before any pattern sees it: its first and last
    halves (the end of a stack trace is its most useful part) around a marker. A token cut in two
    is dropped whole, so no recognisable part of a credential is left at either cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    head = half
    floor = max(0, half - 512)
    while head > floor and text[head - 1] in _TOKEN_CHARS:
        head -= 1
    if head == floor and floor:
        head = half
    tail = len(text) - half
    ceiling = min(len(text), tail + 512)
    while tail < ceiling and text[tail] in _TOKEN_CHARS:
        tail += 1
    if tail == ceiling and ceiling < len(text):
        tail = len(text) - half
    return f"{text[:head]}…[{tail - head} chars cut]…{text[tail:]}"
