"""Fixtures for the eligibility engine's tests: the catalogue and the seeded definitions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from rahdari.programs.definition import (
    DATA_DIR,
    SEEDED_PROGRAMS,
    Catalogue,
    ProgramDefinition,
    seeded_definition,
)
from tests.identity.conftest import registered  # noqa: F401 — for the registry fixtures
from tests.programs.catalogue import CATALOGUE
from tests.registry.conftest import make_household, survey_round  # noqa: F401 — households


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return CATALOGUE


@pytest.fixture(scope="session")
def seeded() -> dict[str, ProgramDefinition]:
    return {code: seeded_definition(code, CATALOGUE) for code in SEEDED_PROGRAMS}


@pytest.fixture(scope="session")
def _seeded_json() -> dict[str, dict[str, Any]]:
    return {
        code: json.loads((DATA_DIR / f"{code}.json").read_text(encoding="utf-8"))
        for code in SEEDED_PROGRAMS
    }


@pytest.fixture
def seeded_data(_seeded_json: dict[str, dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """A fresh, mutable copy of a seeded definition's JSON."""
    return lambda code: copy.deepcopy(_seeded_json[code])
