"""Acting on consents as one user, through the service or through HTTP, with one answer shape.

A rule is tested twice (STYLE.md): ``Actions("service", ...)`` calls the service functions in
an app context of its own and commits like a request would; ``Actions("http", ...)`` sends
the same request through the API. Both answer an ``Outcome`` (status, problem code, body),
so one test body checks both ways.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.auth.models import User
from app.consents import eligibility as eligibility_module
from app.consents import service as consent_service
from app.consents.models import ConsentRecord
from app.consents.schemas import ConsentSchema
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.households.models import Person

VIAS = ("service", "http")


def payload(subject, basis: str, decision: str, link=None, **fields: Any) -> dict:
    """A consent as a client sends it (JSON types)."""
    body = {
        "subject_id": str(subject.id),
        "basis": basis,
        "decision": decision,
        "given_at": (utcnow() - dt.timedelta(hours=1)).isoformat(),
        "evidence": "signed_form",
        **fields,
    }
    if link is not None:
        body["guardianship_id"] = str(link.id)
    if body.get("authority"):
        body["authority"] = {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in body["authority"].items()
        }
    return body


def authority(**fields: Any) -> dict:
    """A social-services decision: the authority, its officer, decision number and date.

    Python values, as the service takes them; ``payload`` turns them into JSON.
    """
    return {
        "name": "Riverside district children's service",
        "officer_name": "N. Kovalenko",
        "decision_ref": "SS-2024-117",
        "decision_date": utcnow().date() - dt.timedelta(days=2),
        **fields,
    }


def stored_consents(app) -> list[ConsentRecord]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ConsentRecord)))


@dataclass
class Outcome:
    status: int
    code: str | None = None
    body: dict = field(default_factory=dict)

    @property
    def reason_codes(self) -> set[str]:
        return {reason["code"] for reason in self.body.get("reasons") or []}


class Actions:
    """Record, review, revoke and ask for eligibility as a given user, by ``via``."""

    def __init__(self, via: str, app, login, monkeypatch) -> None:
        assert via in VIAS
        self.via = via
        self.app = app
        self.login = login
        self.monkeypatch = monkeypatch
        self._clients: dict = {}

    # --- consents ---------------------------------------------------------------------

    def record(self, user, body: dict) -> Outcome:
        if self.via == "http":
            return self._post(user, "/api/v1/consents", body)
        data = ConsentSchema().load(body)
        return self._service(user, lambda actor: consent_service.record_consent(actor, data), 201)

    def get(self, user, consent_id) -> Outcome:
        if self.via == "http":
            response = self._client(user).get(f"/api/v1/consents/{consent_id}")
            return self._outcome(response)
        return self._service(user, lambda actor: consent_service.get_consent(actor, consent_id))

    def verify(self, user, consent_id, note: str | None = None) -> Outcome:
        if self.via == "http":
            body = {} if note is None else {"note": note}
            return self._post(user, f"/api/v1/consents/{consent_id}/verify", body)
        return self._service(
            user, lambda actor: consent_service.verify_consent(actor, consent_id, note)
        )

    def reject(self, user, consent_id, note: str | None) -> Outcome:
        if self.via == "http":
            body = {} if note is None else {"note": note}
            return self._post(user, f"/api/v1/consents/{consent_id}/reject", body)
        return self._service(
            user, lambda actor: consent_service.reject_consent(actor, consent_id, note or "")
        )

    def revoke(self, user, consent_id, reason: str | None) -> Outcome:
        if self.via == "http":
            body = {} if reason is None else {"reason": reason}
            return self._post(user, f"/api/v1/consents/{consent_id}/revoke", body)
        return self._service(
            user, lambda actor: consent_service.revoke_consent(actor, consent_id, reason or "")
        )

    # --- the rule ---------------------------------------------------------------------

    def eligibility(self, user, person, at: dt.datetime | None = None) -> dict:
        """The rule's answer for ``person``, evaluated at ``at`` (now by default)."""
        if self.via == "service":
            with self.app.app_context():
                found = db.session.get(Person, person.id)
                result = eligibility_module.evaluate_eligibility(found, at=at)
                return {
                    "person_id": str(result.person_id),
                    "is_child": result.is_child,
                    "requirement": result.requirement,
                    "eligible": result.eligible,
                    "basis": result.basis,
                    "consent_id": str(result.consent_id) if result.consent_id else None,
                    "reasons": [{"code": r.code, "message": r.message} for r in result.reasons],
                }
        with self.monkeypatch.context() as patch:
            if at is not None:
                # the endpoint asks "now": move the rule's clock to the day being tested
                patch.setattr(eligibility_module, "utcnow", lambda: at)
            response = self._client(user).get(f"/api/v1/persons/{person.id}/eligibility")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    # --- plumbing ---------------------------------------------------------------------

    def _client(self, user):
        if user.id not in self._clients:
            self._clients[user.id] = self.login(user)
        return self._clients[user.id]

    def _post(self, user, url: str, body: dict) -> Outcome:
        return self._outcome(self._client(user).post(url, json=body))

    @staticmethod
    def _outcome(response) -> Outcome:
        body = response.get_json() or {}
        return Outcome(response.status_code, body.get("code"), body)

    def _service(
        self, user, operation: Callable[[User], ConsentRecord], status: int = 200
    ) -> Outcome:
        with self.app.app_context():
            actor = db.session.get(User, user.id)
            try:
                record = operation(actor)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                return Outcome(
                    error.status,
                    error.code,
                    {"errors": error.errors or {}, "reasons": error.reasons or []},
                )
            return Outcome(status, None, ConsentSchema().dump(record))
