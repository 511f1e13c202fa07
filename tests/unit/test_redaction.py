import pytest

from vitalyst_otel.redaction import MASK, Redactor
from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS

SECRET = "s3cr3t-VALUE-42"


@pytest.fixture
def redactor():
    return Redactor((*DEFAULT_REDACT_KEYS, "tenant_pin"))


@pytest.mark.parametrize("key", ["password", "Authorization", "X-Api-Key", "db.password", "user_password",
                                 "http.request.header.authorization", "Set-Cookie", "client_secret",
                                 "refresh_token", "tenant_pin", "API_KEY"])
def test_sensitive_keys_are_masked_whole(redactor, key):
    assert redactor.is_sensitive(key)
    masked = redactor.value(key, SECRET)
    assert masked == MASK and "s3" not in masked


@pytest.mark.parametrize("key", ["user", "node.type", "http.route", "gen_ai.usage.input_tokens", "keyboard"])
def test_ordinary_keys_pass(redactor, key):
    assert not redactor.is_sensitive(key)
    assert redactor.value(key, "plain") == "plain"


def test_nested_structures_are_walked(redactor):
    data = {"user": "ana", "login": {"password": SECRET, "hint": "x"}, "list": [{"token": SECRET}]}
    out = redactor.value("details", data)
    assert out == {"user": "ana", "login": {"password": MASK, "hint": "x"}, "list": [{"token": MASK}]}


def test_query_strings_and_urls(redactor):
    assert redactor.query(f"token={SECRET}&page=2") == f"token={MASK}&page=2"
    assert redactor.query("page=2&q=graph") == "page=2&q=graph"
    assert SECRET not in redactor.query(f"X-Amz-Signature={SECRET}&a=b")
    url = f"https://ana:{SECRET}@api.example.com/v1/nodes?api_key={SECRET}&limit=5"
    cleaned = redactor.url(url)
    assert SECRET not in cleaned and "ana" not in cleaned
    assert cleaned.startswith("https://") and "api.example.com/v1/nodes" in cleaned and "limit=5" in cleaned


@pytest.mark.parametrize("text", [
    f"login failed password={SECRET}",
    f'payload {{"password": "{SECRET}"}}',
    f"Authorization: Bearer {SECRET}",
    f"calling https://svc:{SECRET}@db.internal:5432/app",
    f"GET /nodes?token={SECRET}&x=1",
])
def test_free_text_loses_its_credentials(redactor, text):
    cleaned = redactor.text(text)
    assert SECRET not in cleaned and MASK in cleaned


def test_attribute_values_that_are_urls_are_scrubbed_not_masked(redactor):
    assert redactor.value("url.full", f"http://h/p?token={SECRET}") == f"http://h/p?token={MASK}"
    assert redactor.value("url.query", f"a=1&password={SECRET}") == f"a=1&password={MASK}"
