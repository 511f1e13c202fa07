"""Every repository path a doc names exists: the Markdown docs, the README, and the comments of
the files an operator reads (deploy/, collector/, prometheus/, grafana/provisioning/, tools/).
A path is a word that starts with one of the repository's top-level directories; globs
(`collector/*.yaml`) must match something, brace lists (`ilm-vitalyst-{logs,audit}.json`) each
alternative, placeholders (`<tool>`) are not checked, and git-ignored paths (what a run
creates, such as deploy/compose/secrets/) need not exist."""

from __future__ import annotations

import glob
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = sorted(p.name for p in ROOT.iterdir()
                   if p.is_dir() and p.name not in (".git", ".venv") and not p.name.endswith(".egg-info"))
PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w.*{},/<>-]*[\w*}/])" % "|".join(map(re.escape, TOP_LEVEL)))
READ_BY_OPERATORS = ("deploy", "collector", "prometheus", "grafana/provisioning", "tools")
TEXT_SUFFIXES = {".md", ".yaml", ".yml", ".sh", ".tpl", ".txt", ".json", ".toml", ""}


def documents() -> list[Path]:
    docs = sorted(ROOT.glob("docs/**/*.md")) + [ROOT / "README.md"]
    for directory in READ_BY_OPERATORS:
        docs += sorted(p for p in (ROOT / directory).rglob("*")
                       if p.is_file() and p.suffix in TEXT_SUFFIXES and p.stat().st_size < 200_000
                       and not p.is_symlink())
    return docs


def _expand(path: str) -> list[str]:
    brace = re.search(r"\{([^{}]*)\}", path)
    if brace is None:
        return [path]
    return [full for alternative in brace.group(1).split(",")
            for full in _expand(path[:brace.start()] + alternative + path[brace.end():])]


def named_paths(text: str) -> list[tuple[int, str]]:
    """(line number, path) of every repository path the text names."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in PATH.finditer(line):
            path = match.group(1).rstrip(".,:;")
            if "<" in path or re.match(r":[\w$]", line[match.end():match.end() + 2]):  # placeholder, image:tag
                continue
            found += [(number, p) for p in _expand(path)]
    return found


def _ignored(path: str) -> bool:
    return subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", path],
                          timeout=30).returncode == 0


def test_the_checker_finds_paths_globs_and_brace_lists() -> None:
    text = ("see `deploy/compose/compose.yaml`, collector/*.yaml and\n"
            "deploy/compose/elasticsearch/ilm-vitalyst-{logs,audit}.json; tools/<tool>/build.sh,\n"
            "grafana/grafana:12.1.1 is an image, not a file; x/docs/a.md is not ours.")
    assert named_paths(text) == [(1, "deploy/compose/compose.yaml"), (1, "collector/*.yaml"),
                                 (2, "deploy/compose/elasticsearch/ilm-vitalyst-logs.json"),
                                 (2, "deploy/compose/elasticsearch/ilm-vitalyst-audit.json")]


def test_every_path_a_doc_names_exists() -> None:
    missing = []
    for doc in documents():
        for number, path in named_paths(doc.read_text(errors="replace")):
            if not glob.glob(str(ROOT / path)) and not _ignored(path):
                missing.append(f"{doc.relative_to(ROOT)}:{number}: {path}")
    assert not missing, "docs name files that do not exist:\n" + "\n".join(missing)
