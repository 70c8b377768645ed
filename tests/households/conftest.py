"""Fixtures shared by the household, person and guardianship tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def household(make_household, team):
    """A household of the field worker's team (Team North)."""
    return make_household(team=team, locality="Riverside")


@pytest.fixture
def foreign_household(make_household, other_team):
    """A household of another team (Team South)."""
    return make_household(team=other_team, locality="Southgate")
