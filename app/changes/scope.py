"""Where a model's changes belong: its household, its person, its team.

Each model whose rows are case data declares it once, as ``__change_scope__``, naming its
own columns; the stream (``app.changes.stream``) resolves the rest: a person's household
from the person, a household's team from the household. A model that declares nothing
(users, teams, housing offers) belongs to no household and to no team's feed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeScope:
    """Attribute names: ``household`` holds the household's id, ``person`` the person's
    (the household then follows from the person unless named too), ``team`` a team's id
    for what belongs to a team directly rather than through a household."""

    household: str | None = None
    person: str | None = None
    team: str | None = None
