"""Helpers for the household, person and guardianship tests."""

from __future__ import annotations

import datetime as dt

from app.households.models import today, years_before


def born(years: int, days: int = 0) -> dt.date:
    """The birth date ``years`` before today (the app's UTC day), moved ``days`` later."""
    return years_before(today(), years) + dt.timedelta(days=days)


def etag(response) -> str:
    """The ETag header a response carries, for the next request's If-Match."""
    value = response.headers.get("ETag")
    assert value, "the response carries no ETag"
    return value
