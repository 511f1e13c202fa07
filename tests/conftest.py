"""Shared test policy: integration tests need real servers. On a laptop without them they skip
with a message naming what is missing; under CI=true a missing part fails the run instead."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip (laptop) or fail (CI=true) unless ``condition`` holds; ``what`` says what is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)
