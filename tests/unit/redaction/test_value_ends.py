"""A masked value ends where the value syntax of its context ends, so the rest of the line survives
byte for byte: access lines, URLs, header dumps, JSON text, logfmt and prose. Each line holds the
secret ⟨S⟩; the expected output is the line with exactly the masked part replaced (by default the
secret alone)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS
from vitalyst_otel.redaction import MASK, Redactor

SECRET = "Zq9vE1nds7Kp"
MASKED = "⟨M⟩"  # in an expected line: where the mask stands


class Line(NamedTuple):
    name: str
    line: str
    expected: str | None = None  # None: the line with ⟨S⟩ replaced by the mask


LINES = [
    # uvicorn / gunicorn access lines: the query value ends at & or whitespace
    Line("access line, token then page", '127.0.0.1:5000 - "GET /x?token=⟨S⟩&page=2 HTTP/1.1" 200'),
    Line("access line, token last", '127.0.0.1:5000 - "GET /x?token=⟨S⟩ HTTP/1.1" 200'),
    Line("access line, second parameter", '10.0.0.7:41234 - "POST /login?next=/home&access_token=⟨S⟩ HTTP/1.1" 302'),
    Line("gunicorn combined format",
         '10.1.2.3 - - [01/Dec/2026:15:00:00 +0000] "GET /v1/nodes?api_key=⟨S⟩&limit=5 HTTP/1.1" 200 512 "-" "curl/8.5.0"'),
    Line("signed URL parameter", 'GET /f?X-Amz-Expires=60&X-Amz-Signature=⟨S⟩&X-Amz-Date=20261201T000000Z HTTP/1.1'),
    Line("OAuth callback with fragment", "GET /cb?code=⟨S⟩&state=xyz#done HTTP/2"),
    # URLs in text
    Line("URL with api_key", "calling https://api.example.com/v1?api_key=⟨S⟩&limit=5 now"),
    Line("URL in an HTML attribute", '<a href="https://x.example/?token=⟨S⟩">link</a>'),
    Line("quoted URL in logfmt", "url='https://x.example/?sig=⟨S⟩' status=403"),
    Line("URL then tab", "GET /x?token=⟨S⟩\tnext"),
    Line("URL user info", "connecting to postgres://app:⟨S⟩@db:5432/app (attempt 2)",
         "connecting to postgres://⟨M⟩@db:5432/app (attempt 2)"),
    # header lines and dumps
    Line("header line", "X-Api-Key: ⟨S⟩\nAccept: */*"),
    Line("Authorization header line", "Authorization: Bearer ⟨S⟩\nAccept: */*", "Authorization: ⟨M⟩\nAccept: */*"),
    Line("Authorization Digest keeps the next line",
         'Authorization: Digest username="ana", response="⟨S⟩"\nHost: example.com',
         "Authorization: ⟨M⟩\nHost: example.com"),
    Line("Cookie header, every cookie", "Cookie: theme=dark; sessionid=⟨S⟩\nHost: example.com",
         "Cookie: ⟨M⟩\nHost: example.com"),
    Line("header dump as a dict", "headers {'x-api-key': '⟨S⟩', 'accept': '*/*', 'host': 'api'}"),
    Line("header list of tuples", "[('authorization', 'Bearer ⟨S⟩'), ('accept', '*/*')]",
         "[('authorization', '⟨M⟩'), ('accept', '*/*')]"),
    Line("header mid-line", "upstream sent X-Api-Key: ⟨S⟩ Accept: */*"),
    Line("authorization with a scheme", "sent header authorization=token ⟨S⟩ to upstream",
         "sent header authorization=⟨M⟩ to upstream"),
    # JSON text
    Line("JSON string value", '{"password": "⟨S⟩", "user": "ana", "n": 2}'),
    Line("JSON unquoted value", '{"password": ⟨S⟩, "user": "ana"}'),
    Line("JSON unquoted value last", '{"pin_count": 1234, "token": ⟨S⟩}'),
    Line("JSON array value", '{"tokens": [1, 2], "api_key": ⟨S⟩]}'),
    Line("JSON escaped quote inside the value", '{"password": "a\\"⟨S⟩", "user": "ana"}', '{"password": "⟨M⟩", "user": "ana"}'),
    Line("Python dict repr", "{'token': '⟨S⟩', 'count': 3}"),
    # key=value logs
    Line("logfmt", 'level=info msg="auth ok" api_key=⟨S⟩ user=ana duration_ms=12'),
    Line("logfmt, line starts with the key", "password=⟨S⟩ user=ana"),
    Line("logfmt, unquoted value with a space before the next field", "password=pa ss;⟨S⟩ user=ana",
         "password=⟨M⟩ user=ana"),
    Line("logfmt, one word right before the next field is taken as the value (a limit)",
         "token=⟨S⟩ expired user=ana", "token=⟨M⟩ user=ana"),
    Line("prose before a later field", "login failed password=⟨S⟩ for ana ip=10.0.0.1"),
    Line("a key inside a quoted message", 'msg="retry with token=⟨S⟩ now" user=ana'),
    Line("a long message before a later field", "password=⟨S⟩ " + "filler " * 300 + "token_count=3"),
    Line("logfmt, quoted value with spaces", 'msg="connect" password="correct horse ⟨S⟩" user=ana',
         'msg="connect" password="⟨M⟩" user=ana'),
    Line("connection string", "Server=db;Password=⟨S⟩;Database=app;Timeout=5"),
    Line("connection string, password with ; and @", "Server=db;Password=p;w@⟨S⟩;Database=app",
         "Server=db;Password=⟨M⟩;Database=app"),
    Line("Azure storage connection string",
         "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=⟨S⟩;EndpointSuffix=core.windows.net"),
    Line("CLI flags", "run --password=⟨S⟩ --verbose --port=8080"),
    Line("shell", "export API_TOKEN=⟨S⟩ && ./deploy.sh"),
    Line("env line, command after", "PGPASSWORD=⟨S⟩ psql -h db -U app"),
    Line("env lines", "DB_HOST=db\nDB_PASSWORD=⟨S⟩\nDB_PORT=5432"),
    Line("YAML", "db:\n  password: ⟨S⟩\n  port: 5432"),
    # prose
    Line("prose after the value", "login failed password=⟨S⟩ for user ana"),
    Line("comma after the value", "token=⟨S⟩, retrying in 5s"),
    Line("semicolon after the value", "retrying with token=⟨S⟩; attempt=2"),
    Line("colon form in prose", "invalid token: ⟨S⟩ (expired)"),
    Line("value on the first line only", "db_password=⟨S⟩\nnext line stays"),
    Line("bearer in prose", "sent bearer ⟨S⟩ upstream"),
]


@pytest.fixture(scope="module")
def redactor():
    return Redactor(DEFAULT_REDACT_KEYS)


def test_the_corpus_covers_each_context():
    assert len(LINES) >= 40 and len({line.name for line in LINES}) == len(LINES)
    assert all("⟨S⟩" in line.line for line in LINES)


@pytest.mark.parametrize("case", LINES, ids=[line.name for line in LINES])
def test_the_secret_goes_and_the_rest_of_the_line_stays(redactor, case):
    text = case.line.replace("⟨S⟩", SECRET)
    expected = (case.expected or case.line.replace("⟨S⟩", MASKED)).replace(MASKED, MASK)
    cleaned = redactor.text(text)
    assert SECRET not in cleaned
    assert cleaned == expected


def test_the_url_and_query_paths_keep_their_rest(redactor):
    assert redactor.path(f"/x?token={SECRET} HTTP/1.1") == f"/x?token={MASK} HTTP/1.1"
    assert redactor.query(f"token={SECRET}&page=2") == f"token={MASK}&page=2"
    assert redactor.url(f"https://h/p?token={SECRET}&page=2#top") == f"https://h/p?token={MASK}&page=2#top"
