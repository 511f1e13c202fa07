"""Well-known credential formats, recognised in free text wherever they appear.

Each format is written as its first character and the rest. The compiled alternation begins
every branch with that literal character, so the regex engine skips in C to the positions where
one of them occurs; right after it, a fixed-width look-behind checks that no token character
precedes it. A run of characters is therefore tried once per format, from its start, never from
each position inside it, and every quantifier is possessive: matching is linear in the input.
"""

from __future__ import annotations

import re

_BEFORE = "A-Za-z0-9_\\-"  # a token starts where none of these precedes it

FORMATS: dict[str, tuple[str, str]] = {
    "jwt": ("e", r"yJ[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]*+"),
    "aws_access_key_id": ("A", r"(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|ROA|PKA|SCA|3T[A-Z0-9])"
                               r"[A-Z0-9]{16}(?![A-Za-z0-9])"),
    "github": ("g", r"(?:h[pousr]_[A-Za-z0-9]{30,}+|ithub_pat_[A-Za-z0-9_]{22,}+)"),
    "gitlab": ("g", r"l(?:pat|dt|rt|ptt|cbt|imt|oas|soat|ft|agent)-[A-Za-z0-9_\-]{20,}+"),
    "grafana": ("g", r"l(?:sa_[A-Za-z0-9]{32}_[a-f0-9]{8}|c_[A-Za-z0-9+/]{32,}+={0,2}+)"),
    "slack": ("x", r"(?:ox[abposr]|app)-[A-Za-z0-9\-]{10,}+"),
    "slack_webhook": ("h", r"ooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]++"),
    "stripe_secret": ("s", r"k_(?:live|test)_[A-Za-z0-9]{10,}+"),
    "stripe_restricted": ("r", r"k_(?:live|test)_[A-Za-z0-9]{10,}+"),
    "stripe_publishable": ("p", r"k_(?:live|test)_[A-Za-z0-9]{10,}+"),
    "stripe_webhook": ("w", r"hsec_[A-Za-z0-9]{20,}+"),
    "google_api_key": ("A", r"Iza[A-Za-z0-9_\-]{35}"),
    "google_oauth": ("y", r"a29\.[A-Za-z0-9_\-]{20,}+"),
    "google_client_secret": ("G", r"OCSPX-[A-Za-z0-9_\-]{20,}+"),
    "openai_anthropic": ("s", r"k-(?:proj-|svcacct-|admin-|ant-[a-z]{2,8}\d\d-)?[A-Za-z0-9_\-]{32,}+"),
    "npm": ("n", r"pm_[A-Za-z0-9]{36}"),
    "pypi": ("p", r"ypi-AgE[A-Za-z0-9_\-]{40,}+"),
    "twilio": ("S", r"K[0-9a-f]{32}(?![A-Za-z0-9])"),
    "sendgrid": ("S", r"G\.[A-Za-z0-9_\-]{16,}+\.[A-Za-z0-9_\-]{16,}+"),
    "mailgun": ("k", r"ey-[0-9a-z]{32}(?![A-Za-z0-9])"),
    "shopify": ("s", r"hp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    "digitalocean": ("d", r"o[por]_v1_[a-f0-9]{64}"),
    "vault": ("h", r"v[sbr]\.[A-Za-z0-9_\-]{24,}+"),
    "databricks": ("d", r"api[a-f0-9]{32}(?:-\d)?"),
    "huggingface": ("h", r"f_[A-Za-z0-9]{30,}+"),
    "postman": ("P", r"MAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    "linear": ("l", r"in_api_[A-Za-z0-9]{40}"),
    "doppler": ("d", r"p\.(?:st|ct|sa|scim|audit|pt)\.(?:[a-z0-9_\-]{1,40}+\.)?[A-Za-z0-9_\-]{20,}+"),
    "age": ("A", r"GE-SECRET-KEY-1[0-9A-Z]{58}"),
    "newrelic": ("N", r"R(?:AK|II|AA)-[A-Za-z0-9]{27}"),
    "atlassian": ("A", r"TATT3[A-Za-z0-9_\-=]{20,}+"),
    "square": ("s", r"q0(?:atp|csp)-[A-Za-z0-9_\-]{22,}+"),
}


def _branch(first: str, rest: str) -> str:
    return f"{re.escape(first)}(?<![{_BEFORE}]{re.escape(first)}){rest}"


TOKENS = re.compile("|".join(_BRANCHES := [_branch(f, r) for f, r in FORMATS.values()]))
# Characters at least one format needs besides letters and digits; text with none of them can
# still hold the formats listed in ALNUM_PREFIXES.
ALNUM_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA",
                  "APKA", "ASCA", "A3T", "AIza")  # and "SK", "dapi"

# A PEM private key block; its body runs to the END line (or to the end of the text).
PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,20}+ ){0,4}PRIVATE KEY(?: BLOCK)?-----")


def trie(words) -> str:
    """A regex alternation of ``words`` factored by common prefixes, so the engine makes one
    comparison per character instead of trying every word."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"
        return body

    return render(tree)
