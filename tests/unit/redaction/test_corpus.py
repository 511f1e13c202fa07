"""Every shape of the corpus through the Redactor directly: 0 leaks, 0 false positives.
(tests/integration/test_redaction_channels.py sends the same corpus through every channel.)"""

import pytest

from tests.unit.redaction.corpus import FIELDS, LOOKALIKE_FIELDS, LOOKALIKE_TEXTS, NESTED, TEXTS
from vitalyst_otel.redaction import MASK, Redactor
from vitalyst_otel.config.variables import DEFAULT_REDACT_KEYS


@pytest.fixture(scope="module")
def redactor():
    return Redactor(DEFAULT_REDACT_KEYS)


def test_the_corpus_is_large_enough():
    assert len(TEXTS) + len(FIELDS) + len(NESTED) >= 80
    assert len(LOOKALIKE_TEXTS) + len(LOOKALIKE_FIELDS) >= 20
    secrets = [s.secret for s in (*TEXTS, *FIELDS, *NESTED)]
    assert len(set(secrets)) == len(secrets)


@pytest.mark.parametrize("shape", TEXTS, ids=[s.name for s in TEXTS])
def test_text_shapes_are_masked(redactor, shape):
    cleaned = redactor.text(shape.text)
    assert shape.secret not in cleaned and MASK in cleaned


@pytest.mark.parametrize("shape", FIELDS + NESTED, ids=[s.name for s in FIELDS + NESTED])
def test_field_shapes_are_masked(redactor, shape):
    cleaned = redactor.value(shape.key, shape.value)
    assert shape.secret not in repr(cleaned) and MASK in repr(cleaned)


@pytest.mark.parametrize("text", LOOKALIKE_TEXTS)
def test_lookalike_texts_pass_untouched(redactor, text):
    assert redactor.text(text) == text


@pytest.mark.parametrize("key,value", LOOKALIKE_FIELDS)
def test_lookalike_fields_pass_untouched(redactor, key, value):
    assert not redactor.is_sensitive(key)
    assert redactor.value(key, value) == value
