"""Credentials never leave the process: masking of keys, URLs, query strings and free text.

- :mod:`.keys`: which keys are sensitive (whole key parts, not substrings);
- :mod:`.patterns`: the well-known token formats;
- :mod:`.scanner`: the linear free-text scanner and the size cap;
- :mod:`.redactor`: :class:`Redactor`, the one object every channel uses;
- :mod:`.spans`, :mod:`.records`, :mod:`.metrics`: what each channel hands to it (span names,
  attributes, events, links, status; exception fields, the logs API, logging-error reports;
  metric point attributes).

The mask is a fixed string, so no part of a secret (not its length, not its first characters)
survives. The collector's redaction processor repeats this as a second line of defence.
"""

from vitalyst_otel.redaction.redactor import DEFAULT_MAX_CHARS, QUERY_ATTRIBUTE_KEYS, URL_KEYS, Redactor
from vitalyst_otel.redaction.scanner import MASK, QUERY_KEYS

__all__ = ["DEFAULT_MAX_CHARS", "MASK", "QUERY_ATTRIBUTE_KEYS", "QUERY_KEYS", "URL_KEYS", "Redactor"]
