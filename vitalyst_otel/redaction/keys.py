"""Which keys name a credential: matched by whole key parts, never by substring.

A key is split into parts at every character that is not a letter or a digit and at camelCase
boundaries (``db.password`` -> db, password; ``aws_secret_access_key`` -> aws, secret, access,
key; ``xApiKey`` -> x, api, key). Trailing qualifier parts (``value``, ``hash``, ``raw``, a
number...) are set aside; the key is sensitive when the parts that remain *end with* a sensitive
name: ``password``, ``db_password``, ``user-password-hash`` are, while ``password_changed_at``,
``token_count``, ``max_tokens``, ``secretary`` and ``tokenizer`` are not (their last part is not
a sensitive name). A sensitive name of several parts (``api_key``) also matches written as one
part (``apikey``, ``ApiKey``). ``password``, ``passwd``, ``passphrase`` and ``secret`` also match
at the end of one part (``pgpassword``, ``clientsecret``): no ordinary word ends with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Names whose last part alone makes a key sensitive.
SINGLE = frozenset({
    "password", "passwords", "passwd", "pwd", "pass", "passphrase", "secret", "secrets",
    "token", "authorization", "auth", "cookie", "cookies", "credential", "credentials", "creds",
    "jwt", "bearer", "apikey", "signature", "otp", "sessionid", "jsessionid", "phpsessid",
    "privatekey", "dsn",
})
# Names of several parts: the key's parts must end with them (or with them joined into one part).
MULTI = (
    ("api", "key"), ("api", "keys"), ("access", "key"), ("secret", "key"), ("private", "key"),
    ("signing", "key"), ("encryption", "key"), ("master", "key"), ("account", "key"),
    ("subscription", "key"), ("auth", "key"), ("client", "key"), ("session", "key"),
    ("app", "key"), ("consumer", "key"), ("shared", "key"), ("storage", "key"), ("ssh", "key"),
    ("license", "key"), ("webhook", "key"), ("access", "tokens"), ("refresh", "tokens"),
    ("auth", "tokens"), ("api", "tokens"), ("set", "cookie"),
    ("connection", "string"), ("conn", "str"), ("private", "key", "id"),
)
# Parts after a sensitive name that still describe the secret (``password_hash``, ``token2``).
QUALIFIERS = frozenset({
    "value", "values", "raw", "plain", "plaintext", "hash", "hashed", "enc", "encrypted", "b64",
    "base64", "hex", "str", "string", "text", "confirm", "confirmation", "repeat", "again", "old",
    "new", "current", "header", "field", "param", "data", "bytes", "base",
})
SUFFIXES = ("password", "passwd", "passphrase", "secret")
_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
MAX_KEY_CHARS = 256  # longer keys are judged by their last 256 characters
_CACHE_LIMIT = 4096


def parts(key: str) -> list[str]:
    """The lowercase parts of ``key`` (``X-Api-Key`` -> ['x', 'api', 'key'])."""
    return [p.lower() for p in _PARTS.findall(key[-MAX_KEY_CHARS:])]


class KeyMatcher:
    """``matcher(key)`` says whether ``key`` names a credential; ``extra`` adds names (their parts
    are matched like the built-in ones), so ``tenant_pin`` makes ``x.tenant_pin`` sensitive."""

    def __init__(self, extra: Iterable[str] = ()):
        single = set(SINGLE)
        multi = {tuple(m) for m in MULTI}
        for name in extra:
            split = tuple(parts(name))
            if len(split) == 1:
                single.add(split[0])
            elif split:
                multi.add(split)
        for sequence in list(multi):
            single.add("".join(sequence))
        self._single = frozenset(single)
        # the last parts a sensitive key can end with (what the free-text scanner looks for)
        self.words = frozenset(single | {m[-1] for m in multi} | set(SUFFIXES))
        self._multi = tuple(sorted(multi, key=len, reverse=True))
        self._cache: dict[str, bool] = {}

    def __call__(self, key: str) -> bool:
        cached = self._cache.get(key)
        if cached is None:
            cached = self._judge(key)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = cached
        return cached

    def _judge(self, key: str) -> bool:
        split = parts(key)
        while len(split) > 1 and (split[-1] in QUALIFIERS or split[-1].isdigit()):
            split.pop()
        if not split:
            return False
        last = split[-1]
        if last in self._single or last.endswith(SUFFIXES):
            return True
        for sequence in self._multi:
            n = len(sequence)
            if len(split) >= n and tuple(split[-n:]) == sequence:
                return True
        return False
