"""Probes for the load balancer: the process lives (/healthz), the database answers (/readyz)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from app import unit_of_work
from app.errors import database_unavailable_problem
from app.extensions import db

blp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        log.warning("readiness check: database unreachable", exc_info=True)
        return database_unavailable_problem()
    finally:
        try:
            unit_of_work.abandon()
        except sa.exc.SQLAlchemyError:  # the connection is gone; the pool replaces it
            log.debug("rollback after a failed readiness check failed", exc_info=True)
    return jsonify(status="ok", database="ok")
