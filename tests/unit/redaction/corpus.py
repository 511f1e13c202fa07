"""The redaction corpus: credential shapes as they really appear, and look-alikes that must
pass untouched. Written for this project (the token values are random strings of each format's
shape, not real credentials).

- ``TEXTS``: free text holding a secret; ``secret`` is the part that must not survive.
- ``FIELDS``: a key and a flat string value (log fields, span and metric attributes, audit details).
- ``NESTED``: a key and a structured value (log fields and audit details only).
- ``LOOKALIKE_TEXTS`` / ``LOOKALIKE_FIELDS``: must come out exactly as they went in.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import string
from typing import Any, NamedTuple

import pydantic

_rng = random.Random(20261201)
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
URLSAFE = ALNUM + "-_"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def marker(n: int) -> str:
    """A distinctive secret: nothing else in any output contains it."""
    return f"Zq{n:03d}" + rand(10)


class Text(NamedTuple):
    name: str
    text: str
    secret: str


class Field(NamedTuple):
    name: str
    key: str
    value: Any
    secret: str


def _jwt() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"sub":"ana","iat":1700000000}').rstrip(b"=").decode()
    return f"{header}.{body}.{rand(43, URLSAFE)}"


def _pem(kind: str) -> tuple[str, str]:
    body = "\n".join(rand(64, ALNUM + "+/") for _ in range(3))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----", body.split("\n")[1]


def _texts() -> list[Text]:
    out: list[Text] = []

    def add(name: str, template: str, secret: str | None = None) -> None:
        value = secret if secret is not None else marker(len(out))
        out.append(Text(name, template.replace("⟨S⟩", value), value))

    # key=value, key: value and their quoted forms, with compound and camelCase keys
    add("password=", "login failed password=⟨S⟩ for ana")
    add("db_password=", "db_password=⟨S⟩ host=db")
    add("DB_PASSWORD env", "DB_PASSWORD=⟨S⟩")
    add("PGPASSWORD env", "PGPASSWORD=⟨S⟩ psql -h db")
    add("aws_secret_access_key=", "aws_secret_access_key=⟨S⟩ region=eu-west-1")
    add("AWS_SECRET_ACCESS_KEY:", "AWS_SECRET_ACCESS_KEY: ⟨S⟩")
    add("api-key: header line", "api-key: ⟨S⟩")
    add("x-api-key: header line", "x-api-key: ⟨S⟩")
    add("X-Api-Key=", "X-Api-Key=⟨S⟩")
    add("apiKey: quoted", 'config apiKey: "⟨S⟩"')
    add("JSON client_secret", '{"client_id": "app", "client_secret": "⟨S⟩"}')
    add("python dict password", "{'user': 'ana', 'password': '⟨S⟩'}")
    add("value with spaces, quoted", 'password="correct horse ⟨S⟩"')
    add("value with space ; @", "password=pa ss;wo@rd-⟨S⟩ next=1")
    add("connection string", "Server=db;Password=p;w@⟨S⟩;Database=app")
    add("redis empty user", "redis://:⟨S⟩@cache:6379/0")
    add("postgres user:pw", "connecting to postgres://app:⟨S⟩@db:5432/app")
    add("password containing @", "mongodb+srv://admin:p@ss@⟨S⟩@cluster0.example.net/db")
    add("amqp", "amqp://guest:⟨S⟩@rabbit:5672/")
    add("ftp", "ftp://user:⟨S⟩@files.example.com/pub")
    add("token as userinfo", "git clone https://⟨S⟩@github.com/org/repo.git")
    add("absolute-form request line", "GET http://ana:⟨S⟩@internal.example/x HTTP/1.1")
    add("Authorization Bearer", "Authorization: Bearer ⟨S⟩")
    add("Authorization Basic", "Authorization: Basic ⟨S⟩", base64.b64encode(f"ana:{marker(900)}".encode()).decode())
    add("Authorization Digest", 'Authorization: Digest username="ana", response="⟨S⟩"')
    add("Proxy-Authorization", "Proxy-Authorization: Basic ⟨S⟩")
    add("Cookie with several cookies", "Cookie: theme=dark; sessionid=⟨S⟩; csrftoken=x1")
    add("Cookie last cookie", "Cookie: a=1; b=⟨S⟩")
    add("Set-Cookie", "Set-Cookie: session=⟨S⟩; Path=/; HttpOnly")
    add("query access_token", "GET /v1/nodes?access_token=⟨S⟩&page=2")
    add("URL api_key param", "https://api.example.com/v1?api_key=⟨S⟩&limit=5")
    add("S3 presigned", "https://bucket.s3.amazonaws.com/f?X-Amz-Expires=60&X-Amz-Signature=⟨S⟩")
    add("Azure SAS sig", "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=⟨S⟩")
    add("OAuth code", "callback?code=⟨S⟩&state=xyz")
    add("token: prose", "invalid token: ⟨S⟩")
    add("refresh_token=", "refresh_token=⟨S⟩")
    add("JSON id_token", '{"id_token":"⟨S⟩","expires_in":3600}')
    add("secret=", "secret=⟨S⟩")
    add("client_secret:", "client_secret: ⟨S⟩")
    add("private_key =", 'private_key = "⟨S⟩"')
    add("tuple pair repr", "headers [('authorization', 'Bearer ⟨S⟩'), ('accept', '*/*')]")
    add("bytes dict repr", "{b'authorization': b'Bearer ⟨S⟩'}")
    add("XML element", "<user>ana</user><password>⟨S⟩</password>")
    add("Ruby/PHP arrow", "password => '⟨S⟩'")
    add("shell export", "export API_TOKEN=⟨S⟩")
    add("Azure AccountKey", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=⟨S⟩;EndpointSuffix=core.windows.net")
    add("camelCase dbPassword", "dbPassword: ⟨S⟩")
    add("CLI flag", "run --password=⟨S⟩ --verbose")
    add("JSON header dump", '{"Authorization": "Bearer ⟨S⟩", "Accept": "*/*"}')
    add("password_hash", "password_hash=⟨S⟩")
    add("numbered key", "user_password2=⟨S⟩")
    add("jwt=", "jwt=⟨S⟩")
    add("session_token", "session_token=⟨S⟩")
    add("lowercase bearer", "sent bearer ⟨S⟩ upstream")
    add("X-Amz-Security-Token header", "X-Amz-Security-Token: ⟨S⟩")
    add("GitHub token scheme", "Authorization: token ⟨S⟩")
    add("secret_key_base", "secret_key_base=⟨S⟩")
    add("encryption_key", "encryption_key: ⟨S⟩")
    add("YAML password", "  password: ⟨S⟩")
    add("logfmt in quotes", 'msg="connect" password="⟨S⟩" user=ana')
    # well-known token formats in free text
    add("JWT", "token in header was ⟨S⟩ today", _jwt())
    add("AWS access key id", "using key ⟨S⟩ for s3", "AKIA" + rand(16, UPPER))
    add("AWS temporary key id", "assumed role key ⟨S⟩", "ASIA" + rand(16, UPPER))
    add("GitHub classic PAT", "pushed with ⟨S⟩", "ghp_" + rand(36))
    add("GitHub OAuth token", "oauth ⟨S⟩ issued", "gho_" + rand(36))
    add("GitHub fine-grained PAT", "pat ⟨S⟩", "github_pat_" + rand(22) + "_" + rand(59))
    add("GitLab PAT", "gitlab ⟨S⟩", "glpat-" + rand(20, URLSAFE))
    add("Slack bot token", "slack ⟨S⟩", "xoxb-" + rand(12, string.digits) + "-" + rand(13, string.digits) + "-" + rand(24))
    add("Slack user token", "slack ⟨S⟩", "xoxp-" + rand(12, string.digits) + "-" + rand(24))
    add("Slack webhook", "posting to https://⟨S⟩", "hooks.slack.com/services/T" + rand(8, UPPER) + "/B" + rand(8, UPPER) + "/" + rand(24))
    add("Stripe secret key", "stripe ⟨S⟩", "sk_live_" + rand(24))
    add("Stripe restricted key", "stripe ⟨S⟩", "rk_test_" + rand(24))
    add("Stripe webhook secret", "webhook ⟨S⟩", "whsec_" + rand(32))
    add("Google API key", "maps ⟨S⟩", "AIza" + rand(35, URLSAFE))
    add("Google OAuth access token", "google ⟨S⟩", "ya29." + rand(60, URLSAFE))
    add("Google client secret", "client ⟨S⟩", "GOCSPX-" + rand(28, URLSAFE))
    add("OpenAI project key", "openai ⟨S⟩", "sk-proj-" + rand(48, URLSAFE))
    add("Anthropic key", "anthropic ⟨S⟩", "sk-ant-api03-" + rand(80, URLSAFE))
    add("npm token", "npm ⟨S⟩", "npm_" + rand(36))
    add("PyPI token", "pypi ⟨S⟩", "pypi-AgEIcHlwaS5vcmc" + rand(50, URLSAFE))
    add("Twilio API key", "twilio ⟨S⟩", "SK" + rand(32, HEX))
    add("SendGrid key", "sendgrid ⟨S⟩", "SG." + rand(22, URLSAFE) + "." + rand(43, URLSAFE))
    add("Mailgun key", "mailgun ⟨S⟩", "key-" + rand(32, HEX))
    add("Shopify token", "shopify ⟨S⟩", "shpat_" + rand(32, HEX))
    add("DigitalOcean token", "do ⟨S⟩", "dop_v1_" + rand(64, HEX))
    add("Vault token", "vault ⟨S⟩", "hvs." + rand(90, URLSAFE))
    add("Databricks token", "databricks ⟨S⟩", "dapi" + rand(32, HEX))
    add("Hugging Face token", "hf ⟨S⟩", "hf_" + rand(34))
    add("Postman key", "postman ⟨S⟩", "PMAK-" + rand(24, HEX) + "-" + rand(34, HEX))
    add("Linear key", "linear ⟨S⟩", "lin_api_" + rand(40))
    add("Doppler token", "doppler ⟨S⟩", "dp.st.dev." + rand(40))
    add("age secret key", "age ⟨S⟩", "AGE-SECRET-KEY-1" + rand(58, UPPER))
    add("New Relic key", "newrelic ⟨S⟩", "NRAK-" + rand(27, UPPER))
    add("Grafana service account", "grafana ⟨S⟩", "glsa_" + rand(32) + "_" + rand(8, HEX))
    add("Square token", "square ⟨S⟩", "sq0atp-" + rand(22, URLSAFE))
    for kind in ("RSA ", "OPENSSH ", "EC ", ""):
        block, line = _pem(kind)
        out.append(Text(f"PEM {kind or 'PKCS8 '}private key", f"loaded key:\n{block}\ndone", line))
    return out


@dataclasses.dataclass
class DbConfig:
    host: str
    password: str


class ApiClientConfig(pydantic.BaseModel):
    base_url: str
    api_key: str


def _fields() -> list[Field]:
    out: list[Field] = []

    def add(key: str, template: str) -> None:
        secret = marker(500 + len(out))
        out.append(Field(key, key, template.replace("⟨S⟩", secret), secret))

    for key in ("password", "db_password", "aws_secret_access_key", "api-key", "x-api-key", "client_secret",
                "refresh_token", "http.request.header.authorization", "Set-Cookie", "apiKey", "DB_PASSWORD",
                "user.password_hash", "secret_key_base"):
        add(key, "⟨S⟩")
    add("authorization", "Bearer ⟨S⟩")
    add("cookie", "theme=dark; sessionid=⟨S⟩")
    add("detail", "retrying with token=⟨S⟩")
    add("url.full", "https://ana:⟨S⟩@api.example.com/v1")
    add("url.query", "page=2&access_token=⟨S⟩")
    add("db.statement", "ALTER USER app WITH PASSWORD 'x' -- password='⟨S⟩'")
    return out


def _nested() -> list[Field]:
    out: list[Field] = []

    def add(name: str, key: str, build) -> None:
        secret = marker(800 + len(out))
        out.append(Field(name, key, build(secret), secret))

    add("dict under a sensitive key", "credentials", lambda s: {"user": "ana", "pw": s})
    add("dict with a sensitive key", "login", lambda s: {"user": "ana", "password": s})
    add("list of header tuples", "headers", lambda s: [("accept", "*/*"), ("authorization", f"Bearer {s}")])
    add("tuple key/value", "call_args", lambda s: ("password", s))
    add("list of strings", "notes", lambda s: ["fine", f"token={s}"])
    add("tuple of strings", "notes_tuple", lambda s: ("fine", f"api_key={s}"))
    add("dataclass", "db", lambda s: DbConfig("db.internal", s))
    add("pydantic model", "client", lambda s: ApiClientConfig(base_url="https://api.example.com", api_key=s))
    add("deeply nested", "request", lambda s: {"meta": {"headers": {"X-Api-Key": s}}})
    add("set of strings", "tags", lambda s: {f"secret={s}"})
    return out


TEXTS = _texts()
FIELDS = _fields()
NESTED = _nested()

LOOKALIKE_TEXTS = [
    "token_count=42", "input_token_count=7 output_token_count=9", "max_tokens=512",
    "password_changed_at=2024-05-01T10:00:00Z", "cookie_consent=accepted", "secretary=Ana Lima",
    "tokenizer=cl100k_base", "cache_key=user:42", "primary_key=node_id", "Basic authentication is disabled",
    "mail sent to ana@example.com", "see https://docs.example.com/a/b?page=2&sort=asc", "at 10:30:15 UTC",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b", "request 123e4567-e89b-12d3-a456-426614174000",
    "gen_ai.usage.output_tokens=128", "keyboard layout: de", "route /items/{item_id} matched",
    "secret_santa=false", "token_type=Bearer", "author=ana", "oauth_provider=github", "scikit sk-learn==1.4",
    "password reset email sent", "fingerprint SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
    "tokens used: 42", "compass=north", "bypass=true", "passport_checked=yes", "node.type=Concept",
]
LOOKALIKE_FIELDS = [
    ("token_count", "42"), ("input_token_count", "7"), ("max_tokens", "512"),
    ("password_changed_at", "2024-05-01"), ("cookie_consent", "yes"), ("secretary", "Ana"),
    ("tokenizer", "cl100k"), ("cache_key", "k1"), ("gen_ai.usage.input_tokens", "10"),
    ("session.id", "s-1"), ("keyboard", "de"), ("http.route", "/items/{item_id}"), ("author", "ana"),
    ("token_type", "Bearer"), ("secret_santa", "no"), ("user_agent.original", "curl/8.5.0"),
    ("password_policy", "strong"), ("auth_method", "oidc"), ("key_id", "k-17"), ("primary_key", "id"),
]
