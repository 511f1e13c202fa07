"""`make test` runs the suite in two parts: everything but DEPLOY_TESTS while deploy-tools
(Docker and its plugins, the base image, helm, kubeconform, etcd, kube-apiserver) still build,
then DEPLOY_TESTS. A test that needs one of those tools but is not listed would run in the first
part and wait for (or race) a build still running; a listed path that needs none of them only
starts later than it could. Both are checked here against the Makefile's list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
# The helpers that run a deploy-tools part, and the scripts that build one.
DEPLOY_HELPERS = ("tests.deploy_support", "tests.integration.k8s_support", "tests.integration.deploy")
DEPLOY_SCRIPTS = re.compile(r"tools/(docker|helm|kubeconform|etcd|kube-apiserver|healthcheck)/|deploy/images/build")


def deploy_tests() -> list[Path]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^DEPLOY_TESTS :=(.*)$", text, re.MULTILINE)
    assert match, "the Makefile has no DEPLOY_TESTS := line"
    return [ROOT / part for part in match.group(1).split()]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def needs_deploy_tools(path: Path) -> bool:
    """The module (or the conftest.py of its directory) imports a deploy helper or runs a
    deploy-tools build script."""
    sources = [path, *(d / "conftest.py" for d in path.parents if d != TESTS.parent and TESTS in (d, *d.parents))]
    for source in (s for s in sources if s.is_file()):
        if any(name.startswith(DEPLOY_HELPERS) for name in imports(source)):
            return True
        if DEPLOY_SCRIPTS.search(source.read_text()):
            return True
    return False


def covered(path: Path, parts: list[Path]) -> bool:
    return any(path == part or part in path.parents for part in parts)


def test_every_test_module_that_needs_a_deploy_tool_is_in_deploy_tests() -> None:
    parts = deploy_tests()
    modules = [m for m in sorted(TESTS.rglob("test_*.py")) if m != Path(__file__).resolve()]
    assert len(modules) > 50, "the test modules were not found"
    missing = [str(m.relative_to(ROOT)) for m in modules if needs_deploy_tools(m) and not covered(m, parts)]
    assert not missing, f"add these to DEPLOY_TESTS in the Makefile: {missing}"


def test_every_deploy_tests_entry_exists_and_needs_a_deploy_tool() -> None:
    for part in deploy_tests():
        assert part.exists(), f"DEPLOY_TESTS names {part.relative_to(ROOT)}, which does not exist"
        modules = [part] if part.is_file() else sorted(part.rglob("test_*.py"))
        assert any(needs_deploy_tools(m) for m in modules), (
            f"{part.relative_to(ROOT)} needs no deploy-tools part: run it in the first part (drop it from DEPLOY_TESTS)")


def test_the_check_recognises_a_deploy_test_and_a_plain_one(tmp_path: Path) -> None:
    assert needs_deploy_tools(TESTS / "integration" / "test_helm_chart.py")
    assert needs_deploy_tools(TESTS / "integration" / "deploy" / "test_images.py")  # through its conftest.py
    assert not needs_deploy_tools(TESTS / "unit" / "test_audit.py")
