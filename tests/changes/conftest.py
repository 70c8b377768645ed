"""Fixtures for the stream of changes: what each unit of work handed its consumers."""

from __future__ import annotations

import pytest

from app import unit_of_work
from app.changes import stream
from app.changes.stream import Change


@pytest.fixture
def recorded(app) -> list[list[Change]]:
    """The changes of every unit of work that commits while the test runs, one list each
    (as the consumers see them, after the feed: a consumer of the test's own)."""
    units: list[list[Change]] = []

    @stream.consumer
    def keep(_session, changes: list[Change]) -> None:
        if changes:
            units.append(changes)

    unit_of_work.BEFORE_COMMIT.append(keep)
    try:
        yield units
    finally:
        unit_of_work.BEFORE_COMMIT.remove(keep)
