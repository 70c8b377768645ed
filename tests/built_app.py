"""A second app, built with ``create_app`` for one test, and the suite's own app given back.

``create_app`` binds process-wide objects (the database engine and session, the login
throttle, the API) to the app it builds; a test that builds one more app, say on another
database, must hand them back to the suite's app afterwards, or the tests after it would
talk to the wrong database.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from flask import Flask

from app import create_app
from app.api import api
from app.extensions import db, limiter


@contextlib.contextmanager
def built_app(settings: dict[str, Any]) -> Iterator[Flask]:
    engine = db.engine
    # the session's bind: the engine, or the connection of a test's rolled-back transaction
    session_options = dict(db.session.session_factory.kw)
    limiter_state, api_state = dict(vars(limiter)), dict(vars(api))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield create_app(settings)
    finally:
        db.session.remove()
        if db.engine is not None and db.engine is not engine:
            db.engine.dispose()
        db.engine = engine
        db.session.session_factory.kw.clear()
        db.session.session_factory.kw.update(session_options)
        vars(limiter).clear()
        vars(limiter).update(limiter_state)
        vars(api).clear()
        vars(api).update(api_state)
        root.handlers[:] = handlers
        root.setLevel(level)
