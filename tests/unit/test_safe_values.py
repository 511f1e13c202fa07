import orjson
from hypothesis import given
from hypothesis import strategies as st

from vitalyst_otel.safe_values import safe_str, sanitize


class Loud:
    def __str__(self):
        raise ValueError("boom")


def test_safe_str_escapes_lone_surrogates_and_survives_raising_str():
    assert safe_str("plain") == ("plain", False)
    assert safe_str("a\udcffb") == ("a\\udcffb", True)
    assert safe_str(Loud()) == ("<unprintable Loud: ValueError>", True)
    assert safe_str(12) == ("12", False)


def test_sanitize_names_every_repaired_place():
    repaired: list[str] = []
    out = sanitize({"a": "\ud800", "b": [1, Loud(), ("x", "\udfff")], "\udcff": True, "c": None}, "d", repaired)
    assert out == {"a": "\\ud800", "b": [1, "<unprintable Loud: ValueError>", ["x", "\\udfff"]], "\\udcff": True,
                   "c": None}
    assert repaired == ["d.a", "d.b[1]", "d.b[2][1]", "d.\\udcff"]


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()))  # lone surrogates included


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT | st.builds(Loud),
                    lambda inner: st.lists(inner) | st.tuples(inner) | st.dictionaries(ANY_TEXT, inner),
                    max_leaves=20))
def test_whatever_goes_in_can_be_encoded(value):
    orjson.dumps(sanitize(value, "v", []))
