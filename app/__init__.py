"""Safe Passage: case tracking for evacuation teams."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from app.logs import configure_logging, register_request_id


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from ``config`` (env vars win), then ``overrides`` (tests)."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    settings = config.load((overrides or {}).get("ENV"))
    settings.update(overrides or {})
    app.config.from_mapping(settings)
    app.json.sort_keys = False
    configure_logging(app)

    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    # imported here: the submodule app.db would shadow a module-level name `db`
    from app.extensions import db, limiter

    db.init_app(app)
    limiter.init_app(app)

    from app.api import init_api

    init_api(app)

    from app.auth.access import register_access_control
    from app.web.headers import register_response_headers
    from app.web.limits import register_request_limits
    from app.web.media import register_media_type_check
    from app.web.resource import register_write_intent

    register_request_id(app)
    register_request_limits(app)
    register_write_intent(app)
    register_access_control(app)
    register_media_type_check(app)
    register_response_headers(app)

    from app.compression import init_compression

    init_compression(app)

    _register_blueprints(app)

    from app.auth.passwords import warm_up_login
    from app.cli import register_commands

    register_commands(app)
    with app.app_context():
        warm_up_login()
    if app.config["ENV"] == "production":
        from app.db_grants import warn_if_owner

        warn_if_owner(app.config["DATABASE_URL"])
    return app


def _register_blueprints(app: Flask) -> None:
    """The API's domains, in the order the document lists them; health and docs beside it."""
    from app.api import api
    from app.audit.api import blp as audit_blp
    from app.auth.api import blp as auth_blp
    from app.consents.api import blp as consents_blp
    from app.docs import blp as docs_blp
    from app.evacuations.api import blp as evacuations_blp
    from app.health import blp as health_blp
    from app.households.api import blp as households_blp
    from app.housing.api import blp as housing_blp
    from app.reports.api import blp as reports_blp
    from app.timeline.api import blp as timeline_blp
    from app.version import blp as version_blp
    from app.visits.api import blp as visits_blp

    for blueprint in (
        auth_blp,
        households_blp,
        visits_blp,
        consents_blp,
        timeline_blp,
        housing_blp,
        evacuations_blp,
        audit_blp,
        reports_blp,
        version_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(health_blp)
    app.register_blueprint(docs_blp)
