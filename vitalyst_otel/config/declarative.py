"""The OpenTelemetry declarative configuration file (``OTEL_CONFIG_FILE``; the older
``OTEL_EXPERIMENTAL_CONFIG_FILE`` spelling still works, with a deprecation note).

Reading a file: YAML or JSON; ``${VAR}`` / ``${VAR:-default}`` substituted in scalar values
(``$$`` is a literal ``$``); ``file_format`` must have major version 1; the document is validated
against the opentelemetry-configuration schema (the ``schema.json`` of the installed
``opentelemetry-configuration`` package, the ``[config-file]`` extra). Then every part the
distribution implements is mapped onto the variables of the table (``config/file_mapping.py``), so the
loader treats the file as one more source, "config file"; our own options sit under
``distribution.vitalyst``, keyed by the variables' keywords. Parts we do not implement are
reported once each, by their path in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

SUPPORTED_MAJOR = 1
_SUBSTITUTION = re.compile(r"\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class FileError(ValueError):
    """The file cannot be used: ``where`` is a line or a path in it."""

    def __init__(self, where: str, what: str, accepted: str):
        super().__init__(f"{where}: {what}")
        self.where, self.what, self.accepted = where, what, accepted


# --- reading ----------------------------------------------------------------------------------


def substitute(value: str, environ: Mapping[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        found = environ.get(match.group(1))
        return found if found else (match.group(2) or "")

    return _SUBSTITUTION.sub(replace, value)


def read(path: str, environ: Mapping[str, str]) -> dict:
    """The document of ``path``, substituted, version-checked and validated; FileError otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise FileError(path, f"cannot be read ({exc.strerror or exc})", "a readable YAML or JSON file") from None
    document, lines = _parse(text, path)
    if not isinstance(document, dict):
        raise FileError("line 1", "the document is not a mapping", "a mapping with file_format and the providers")
    document = _substituted(document, environ)
    _check_version(document)
    _validate(document, lines)
    return document


def _parse(text: str, path: str) -> tuple[Any, dict]:
    if path.endswith(".json"):
        try:
            return json.loads(text), {}
        except json.JSONDecodeError as exc:
            raise FileError(f"line {exc.lineno}", f"not valid JSON ({exc.msg})", "JSON") from None
    try:
        import yaml
    except ImportError:
        raise FileError(path, "is YAML, and PyYAML is not installed", "pip install 'vitalyst-otel[config-file]', "
                        "or the file as .json") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        raise FileError(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc})", "YAML") from None
    return document, _line_index(node)


def _line_index(node, path: tuple = ()) -> dict:
    """Path in the document (tuple of keys and indexes) -> line number, from the YAML nodes."""
    import yaml

    index = {path: node.start_mark.line + 1} if node is not None else {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            index.update(_line_index(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for position, value in enumerate(node.value):
            index.update(_line_index(value, (*path, position)))
    return index


def _substituted(value: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _substituted(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, environ) for item in value]
    if isinstance(value, str) and "$" in value:
        text = substitute(value, environ)
        if text == "":
            return None
        whole = _SUBSTITUTION.fullmatch(value.strip())
        if whole and whole.group(0) != "$$":  # a value that is only a reference gets its YAML type
            import yaml

            try:
                typed = yaml.safe_load(text)
            except yaml.YAMLError:
                return text
            return typed if isinstance(typed, (bool, int, float)) or typed is None else text
        return text
    return value


def _check_version(document: dict) -> None:
    version = document.get("file_format")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+(-[0-9A-Za-z.]+)?", version.strip()):
        raise FileError("file_format", f"is {version!r}", 'a version string such as "1.0" or "1.0-rc.2"')
    if int(version.split(".")[0]) != SUPPORTED_MAJOR:
        raise FileError("file_format", f"is {version!r}, a major version this release cannot read",
                        f"file_format {SUPPORTED_MAJOR}.x")


def schema() -> dict | None:
    try:
        from importlib.resources import files

        return json.loads(files("opentelemetry.configuration").joinpath("schema.json").read_text(encoding="utf-8"))
    except (ImportError, FileNotFoundError, ModuleNotFoundError, OSError):
        return None


def _validate(document: dict, lines: dict) -> None:
    found = schema()
    if found is None:
        return  # without the package, the mapping below still rejects what it does not know
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        return
    errors = sorted(Draft202012Validator(found).iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = min(errors, key=lambda e: len(e.absolute_path))  # the outermost problem first
    path = tuple(error.absolute_path)
    where = dotted(path) or "the document"
    line = _nearest_line(lines, path)
    if line:
        where = f"line {line}, {where}"
    raise FileError(where, error.message, _accepted(error))


def _nearest_line(lines: dict, path: tuple) -> int | None:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def _accepted(error) -> str:
    schema_part = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and "properties" in schema_part:
        return "the keys " + ", ".join(sorted(schema_part["properties"]))
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return " or ".join(kinds)
    if error.validator == "enum":
        return ", ".join(map(str, error.validator_value))
    if error.validator == "required":
        return "a mapping with the keys " + ", ".join(error.validator_value)
    return "what the opentelemetry-configuration schema allows here"


def dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def file_of(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(path, variable it came from) of the configuration file named by the environment."""
    for name in ("OTEL_CONFIG_FILE", "OTEL_EXPERIMENTAL_CONFIG_FILE"):
        value = (environ.get(name) or "").strip()
        if value:
            return value, name
    return None, None
