"""The size cap (VITALYST_REDACT_MAX_CHARS): text over the limit is cut to its first and last
halves around a marker before any pattern sees it, and a token cut in two is dropped whole."""

import re

from vitalyst_otel.redaction import MASK, Redactor
from vitalyst_otel.redaction.scanner import clip

MARKER = re.compile(r"…\[(\d+) chars cut\]…")


def test_short_text_is_left_alone():
    assert clip("a" * 100, 100) == "a" * 100


def test_long_text_keeps_its_first_and_last_halves_and_says_how_much_was_cut():
    text = " ".join(f"w{i:05d}" for i in range(2000))  # words of 6 characters, 13,999 characters
    cut = clip(text, 4096)
    head, tail = MARKER.split(cut)[0], MARKER.split(cut)[2]
    assert text.startswith(head) and text.endswith(tail)
    assert int(MARKER.search(cut).group(1)) == len(text) - len(head) - len(tail)
    assert 4096 - 16 <= len(head) + len(tail) <= 4096  # at most one word's worth lost at each cut
    assert head.endswith(" ") and tail.startswith(" ")  # cut between words, never inside one


def test_a_token_across_a_cut_is_dropped_whole():
    token = "ghp_" + "Q" * 36
    text = "x " * 1000 + token + " y" * 1000  # the token straddles the middle
    cut = clip(text, 2048)
    assert "Q" not in cut and "ghp_" not in cut


def test_the_redactor_cuts_at_its_limit_and_still_masks_what_is_left():
    redactor = Redactor((), max_chars=2048)
    secret = "Zq7clipSecret"
    text = f"password={secret} " + "filler " * 2000 + f"token={secret}"
    cleaned = redactor.text(text)
    assert secret not in cleaned and cleaned.count(MASK) == 2 and MARKER.search(cleaned)
    assert len(cleaned) < 2048 + 64
