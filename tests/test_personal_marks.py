"""What is personal is marked once, on the model (``app.db.personal`` and the other marks).

The audit trail (which columns it names but never copies) and retention (which columns it
blanks) both read the marks; there is no other list. These tests fail when a column that
could hold something about a person carries no decision, when the trail holds any personal
value written through the API, or when retention leaves a marked column as it was.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.audit.models import AuditEvent
from app.audit.service import NOT_AUDITED
from app.db import (
    Base,
    UTCDateTime,
    is_personal,
    needs_decision,
    not_personal,
    personal,
    utcnow,
)
from app.extensions import db
from app.households.models import Household
from app.housing.models import HousingOffer
from tests.conftest import png_bytes
from tests.http_helpers import etag_of

#: What a mark may say (app.db): a misspelt key is no decision.
MARK_KEYS = {"personal", "placeholder", "kept_by_retention", "secret", "audited"}
#: Tables with personal columns that retention leaves to other means, and why.
NOT_RETENTION_SCOPE = {
    "users": "staff accounts: administrators disable them",
    "api_tokens": "expire within hours and are revoked",
    "idempotency_keys": "deleted when they expire (tests/retention)",
    "housing_photos": "deleted with the offers nobody will use again",
}


def _undecided(metadata: sa.MetaData) -> list[str]:
    return [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if needs_decision(column) and not isinstance(column.info.get("personal"), bool)
    ]


def _columns():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            yield table, column


# --- the marks ---------------------------------------------------------------------------


def test_every_column_that_could_hold_something_personal_carries_a_decision():
    """Text, dates, times, numbers (a count is not personal; an age or a phone number stored
    as one would be) and JSON: personal or not, said on the column. Only ids and flags need
    no word."""
    assert _undecided(Base.metadata) == [], (
        "mark these columns info=personal() or info=not_personal() (or secret(), "
        "bookkeeping()) in their models"
    )


def test_a_column_without_a_decision_is_caught_and_withheld_meanwhile():
    metadata = sa.MetaData()
    scratch = sa.Table(
        "scratch",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("visits", sa.Integer),
        sa.Column("urgent", sa.Boolean),
        sa.Column("nickname", sa.String(50)),
        sa.Column("story", sa.Text),
        sa.Column("born_on", sa.Date),
        sa.Column("seen_at", UTCDateTime),
        sa.Column("lat", sa.Float),
        sa.Column("extra", sa.JSON),
        sa.Column("code", sa.String(8), info=not_personal()),
        sa.Column("phone", sa.String(40), info=personal()),
    )
    unmarked = ["visits", "nickname", "story", "born_on", "seen_at", "lat", "extra"]
    assert _undecided(metadata) == [f"scratch.{name}" for name in unmarked]
    # until someone decides, the audit trail treats them as personal: named, never copied
    assert [c.name for c in scratch.columns if is_personal(c)] == [*unmarked, "phone"]


def test_the_marks_are_well_formed():
    problems = []
    for table, column in _columns():
        info, where = column.info, f"{table.name}.{column.name}"
        if set(info) - MARK_KEYS:
            problems.append(f"{where}: unknown mark {sorted(set(info) - MARK_KEYS)}")
        if "placeholder" in info and not (
            info.get("personal") is True and isinstance(column.type, sa.String)
        ):
            problems.append(f"{where}: only personal text takes a placeholder")
        if info.get("secret") and info.get("personal") is not False:
            problems.append(f"{where}: a secret is not personal data (it is never shown)")
        if (
            table.name not in NOT_RETENTION_SCOPE
            and info.get("personal") is True
            and not info.get("kept_by_retention")
            and not column.nullable
            and "placeholder" not in info
        ):
            problems.append(f"{where}: NOT NULL, so retention needs a placeholder to write")
    assert problems == []


# --- the audit trail ---------------------------------------------------------------------


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _stamp(**delta: float) -> str:
    return (utcnow() + dt.timedelta(**delta)).isoformat()


@pytest.fixture
def world(app, client, as_field_worker, as_coordinator, as_admin, team):
    """Something distinctive, and fictional, in every personal column, written and then
    changed through the API. ``sent`` keeps every personal value sent: (table, field, value).
    """
    fw, co = as_field_worker, as_coordinator
    mark = _last_event_id(app)
    sent: list[tuple[str, str, object]] = []

    def personal_values(table: str, body: dict, *keys: str) -> dict:
        sent.extend((table, key, body[key]) for key in keys)
        return body

    household = _ok(
        fw.post(
            "/api/v1/households",
            json=personal_values(
                "households",
                {
                    "locality": "Riverside",
                    "district": "Left bank",
                    "address_description": "Sadova 17, green gate past the bakery",
                    "latitude": 47.3819271,
                    "longitude": 35.1846192,
                    "contact_phone": "+380 67 314 1592",
                    "notes": "Keys with the neighbour Stepan",
                },
                "address_description",
                "latitude",
                "longitude",
                "contact_phone",
                "notes",
            ),
        ),
        201,
    )
    hh = f"/api/v1/households/{household['id']}"
    _ok(
        fw.patch(
            hh,
            json=personal_values(
                "households",
                {
                    "address_description": "Sadova 19, cellar under the pharmacy",
                    "latitude": 47.3911873,
                    "longitude": 35.1902214,
                    "contact_phone": "+380 50 271 8281",
                    "notes": "Moved to the cellar after the shelling",
                    "priority": "high",
                },
                "address_description",
                "latitude",
                "longitude",
                "contact_phone",
                "notes",
            ),
            headers={"If-Match": etag_of(fw, hh)},
        )
    )

    def member(body: dict, *keys: str) -> dict:
        return _ok(fw.post(f"{hh}/members", json=personal_values("persons", body, *keys)), 201)

    grandmother = member(
        {
            "full_name": "Оксана Журавель",
            "date_of_birth": "1951-02-27",
            "sex": "female",
            "medical_notes": "Insulin twice a day",
        },
        "full_name",
        "date_of_birth",
        "medical_notes",
    )
    _ok(
        fw.patch(
            f"/api/v1/persons/{grandmother['id']}",
            json=personal_values(
                "persons",
                {
                    "full_name": "Oksana Zhuravel-Kvit",
                    "date_of_birth": "1951-03-01",
                    "medical_notes": "Insulin, and a cane for the stairs",
                },
                "full_name",
                "date_of_birth",
                "medical_notes",
            ),
            headers={"If-Match": etag_of(fw, f"/api/v1/persons/{grandmother['id']}")},
        )
    )
    mother = member(
        {"full_name": "Mariia Zhuravel", "date_of_birth": "1988-06-13", "sex": "female"},
        "full_name",
    )
    son = member({"full_name": "Bohdan Zhuravel", "estimated_age": 9}, "full_name")
    ward = member({"full_name": "Ostap Lisovyk", "estimated_age": 12}, "full_name")

    father = _ok(
        fw.post(
            f"/api/v1/persons/{son['id']}/guardians",
            json=personal_values(
                "guardianships",
                {
                    "relationship": "father",
                    "external_name": "Yurii Zhuravel",
                    "external_contact": "+48 512 771 903",
                },
                "external_name",
                "external_contact",
            ),
        ),
        201,
    )
    visit = _ok(
        fw.post(
            f"{hh}/visits",
            json={
                "visited_at": _stamp(hours=-3),
                "outcome": "talked",
                "notes": personal_values(
                    "visits", {"notes": "The dog is called Bars and bites"}, "notes"
                )["notes"],
                "stances": [
                    personal_values(
                        "visit_stances",
                        {
                            "person_id": mother["id"],
                            "stance": "undecided",
                            "note": "Waits for word from her husband",
                        },
                        "note",
                    )
                ],
            },
        ),
        201,
    )

    # consents: a father's by telephone, verified, then revoked; a guardian authority's
    parental = _ok(
        fw.post(
            "/api/v1/consents",
            json=personal_values(
                "consent_records",
                {
                    "subject_id": son["id"],
                    "basis": "parental",
                    "decision": "granted",
                    "guardianship_id": father["id"],
                    "given_at": _stamp(hours=-2),
                    "evidence": "witnessed_verbal",
                    "witness_name": "Halyna Sosnovska",
                    "notes": "Said yes from Wroclaw over the phone",
                },
                "witness_name",
                "notes",
            ),
        ),
        201,
    )
    review = personal_values("consent_records", {"note": "Voice matched the last call"}, "note")
    _ok(co.post(f"/api/v1/consents/{parental['id']}/verify", json=review))
    revocation = personal_values("consent_records", {"reason": "Wants him to wait"}, "reason")
    _ok(fw.post(f"/api/v1/consents/{parental['id']}/revoke", json=revocation))
    authority = personal_values(
        "consent_records",
        {
            "name": "Vyshneve district children's service",
            "officer_name": "Iryna Hnatiuk",
            "decision_ref": "VDS-2026/4471",
            "decision_date": (utcnow().date() - dt.timedelta(days=3)).isoformat(),
        },
        "name",
        "officer_name",
        "decision_ref",
    )
    _ok(
        co.post(
            "/api/v1/consents",
            json={
                "subject_id": ward["id"],
                "basis": "social_services",
                "decision": "granted",
                "authority": authority,
                "given_at": _stamp(hours=-1),
                "evidence": "authority_document",
            },
        ),
        201,
    )
    _ok(
        fw.post(
            "/api/v1/consents",
            json={
                "subject_id": mother["id"],
                "basis": "self",
                "decision": "granted",
                "given_at": _stamp(minutes=-30),
                "evidence": "signed_form",
            },
        ),
        201,
    )

    # housing: an offer, changed; its photo; a proposal, declined
    offer = _ok(
        co.post(
            "/api/v1/housing-offers",
            json=personal_values(
                "housing_offers",
                {
                    "title": "Two rooms above Petrenko's workshop",
                    "kind": "apartment",
                    "locality": "Westbank",
                    "capacity": 4,
                    "address": "Lypova 3, flat 8",
                    "provider_name": "Vasyl Petrenko",
                    "provider_contact": "+380 93 118 2046",
                    "notes": "His wife Nadiia speaks Polish",
                },
                "title",
                "address",
                "provider_name",
                "provider_contact",
                "notes",
            ),
        ),
        201,
    )
    offer_url = f"/api/v1/housing-offers/{offer['id']}"
    _ok(
        co.patch(
            offer_url,
            json=personal_values(
                "housing_offers",
                {
                    "title": "Rooms at the Petrenkos'",
                    "address": "Lypova 3, flat 9",
                    "provider_name": "Nadiia Petrenko",
                    "provider_contact": "+380 93 118 2047",
                    "notes": "Ring twice; the bell is broken",
                },
                "title",
                "address",
                "provider_name",
                "provider_contact",
                "notes",
            ),
            headers={"If-Match": etag_of(co, offer_url)},
        )
    )
    caption = personal_values("housing_photos", {"caption": "Vasyl's kitchen"}, "caption")
    _ok(
        co.post(
            f"{offer_url}/photos",
            data={"file": (io.BytesIO(png_bytes(colour=(31, 41, 59))), "k.png"), **caption},
            headers=co._headers(None),
            content_type="multipart/form-data",
        ),
        201,
    )
    proposal = _ok(
        fw.post(
            f"{hh}/housing-proposals",
            json=personal_values(
                "housing_proposals",
                {"offer_id": offer["id"], "notes": "Close to the grandmother's clinic"},
                "notes",
            ),
        ),
        201,
    )
    decline = personal_values("housing_proposals", {"reason": "Stairs too steep"}, "reason")
    _ok(co.post(f"/api/v1/housing-proposals/{proposal['id']}/decline", json=decline))

    evacuation = _ok(
        co.post(
            "/api/v1/evacuations",
            json=personal_values(
                "evacuations",
                {
                    "team_id": str(team.id),
                    "planned_departure": _stamp(days=1),
                    "mode": "on_foot",
                    "meeting_point": "Behind the Lastivka bus stop",
                    "route_notes": "Along the dry canal, not the bridge",
                },
                "meeting_point",
                "route_notes",
            ),
        ),
        201,
    )
    _ok(
        co.post(
            f"/api/v1/evacuations/{evacuation['id']}/members", json={"person_id": mother["id"]}
        ),
        201,
    )

    # a staff account, renamed and given a new password, and a tablet signing in
    password = "orchard-vyshyvanka-kettle-3319"
    user = _ok(
        as_admin.post(
            "/api/v1/users",
            json=personal_values(
                "users",
                {
                    "username": "desk.kovalchuk",
                    "full_name": "Larysa Kovalchuk-Desk",
                    "role": "coordinator",
                    "password": password,
                },
                "full_name",
                "password",
            ),
        ),
        201,
    )
    password = "lantern-sunflower-quarry-8812"
    _ok(
        as_admin.patch(
            f"/api/v1/users/{user['id']}",
            json=personal_values(
                "users",
                {"full_name": "Larysa Kovalchuk", "password": password},
                "full_name",
                "password",
            ),
            headers={"If-Match": etag_of(as_admin, f"/api/v1/users/{user['id']}")},
        )
    )
    login = _ok(
        client.post(
            "/api/v1/auth/tokens",
            json=personal_values(
                "api_tokens",
                {
                    "username": "desk.kovalchuk",
                    "password": password,
                    "device_label": "Larysa's blue tablet",
                },
                "device_label",
            ),
        ),
        201,
    )
    sent.append(("api_tokens", "token", login["token"]))

    # looked for by name, then closed with a few words
    _ok(fw.get("/api/v1/households", query_string={"q": "Zhuravel"}))
    _ok(
        co.post(
            f"{hh}/status",
            json=personal_values(
                "households",
                {"status": "closed", "reason": "moved_away", "note": "Went to Stepan's son"},
                "note",
            ),
        )
    )
    return SimpleNamespace(
        mark=mark,
        household_id=household["id"],
        offer_id=offer["id"],
        evacuation_id=evacuation["id"],
        visit_id=visit["id"],
        sent=sent,
    )


def _as_text(value) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


def _trail(app, after: int) -> tuple[list[AuditEvent], str]:
    """The events since ``after``, and every column of them as one text (non-ASCII as is)."""
    with app.app_context():
        events = list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
            )
        )
        rows = (
            db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.id > after))
            .mappings()
            .all()
        )
    text = json.dumps([dict(r) for r in rows], default=str, ensure_ascii=False)
    return events, text


def test_the_trail_never_holds_a_personal_value(app, world):
    events, trail = _trail(app, world.mark)

    # nothing sent to a personal column is in the trail
    for table, field, value in world.sent:
        assert _as_text(value) not in trail, (table, field, value)

    # nor is anything now stored in a column marked personal or secret, in any table
    with app.app_context():
        for table, column in _columns():
            if not (is_personal(column) or column.info.get("secret")):
                continue
            if table.name in NOT_AUDITED:
                continue
            for value in db.session.scalars(sa.select(column).where(column.is_not(None))):
                assert _as_text(value) not in trail, (table.name, column.name)

    # each of those columns was set or changed here, and its event names it: decided by its
    # own table's marks
    named = {
        (event.entity_type, field)
        for event in events
        for field in (event.details or {}).get("personal_fields", [])
    }
    withheld = {
        (table.name, column.name)
        for table, column in _columns()
        if table.name not in NOT_AUDITED
        and column.info.get("audited") is not False
        and (is_personal(column) or column.info.get("secret"))
    }
    assert withheld - named == set(), "extend the world fixture to set these columns"

    # and the trail is not empty-handed: what is not personal is recorded as it was
    created = next(
        e
        for e in events
        if (e.entity_type, e.action, e.entity_id) == ("households", "create", world.household_id)
    )
    assert created.details["fields"]["locality"] == "Riverside"
    assert created.details["fields"]["district"] == "Left bank"
    assert "address_description" not in created.details["fields"]
    changed = next(
        e
        for e in events
        if (e.entity_type, e.action, e.entity_id) == ("households", "update", world.household_id)
        and "priority" in e.details["changed"]
    )
    # bookkeeping (version, updated_at) is not followed
    assert changed.details["changed"] == {"priority": {"before": "normal", "after": "high"}}
    assert changed.details["personal_fields"] == [
        "address_description",
        "contact_phone",
        "latitude",
        "longitude",
        "notes",
    ]


class _ScratchBase(DeclarativeBase):
    pass


class _Shelter(_ScratchBase):
    """A named place: its label is not personal."""

    __tablename__ = "scratch_shelters"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(50), info=not_personal())


class _Nickname(_ScratchBase):
    """What a family calls someone: the same column name, personal here."""

    __tablename__ = "scratch_nicknames"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(50), info=personal())


@pytest.fixture
def scratch_tables(app):
    with app.app_context():
        _ScratchBase.metadata.create_all(db.engine)
    yield
    with app.app_context():
        _ScratchBase.metadata.drop_all(db.engine)


@pytest.mark.commits
def test_the_same_column_name_is_decided_table_by_table(app, scratch_tables):
    """The trail reads each table's own marks, not a list of column names."""
    mark = _last_event_id(app)
    with app.app_context():
        db.session.add_all(
            [_Shelter(id=1, label="School no. 11 gym"), _Nickname(id=1, label="Zaichyk")]
        )
        db.session.commit()
        shelter, nickname = (
            db.session.get(_Shelter, 1),
            db.session.get(_Nickname, 1),
        )
        shelter.label, nickname.label = "School no. 12 gym", "Kotyk"
        db.session.commit()
        events = {
            (e.entity_type, e.action): e.details
            for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > mark))
        }
    assert events[("scratch_shelters", "create")] == {
        "fields": {"id": 1, "label": "School no. 11 gym"}
    }
    assert events[("scratch_shelters", "update")] == {
        "changed": {"label": {"before": "School no. 11 gym", "after": "School no. 12 gym"}}
    }
    assert events[("scratch_nicknames", "create")] == {
        "fields": {"id": 1},
        "personal_fields": ["label"],
    }
    assert events[("scratch_nicknames", "update")] == {"changed": {}, "personal_fields": ["label"]}
    _, trail = _trail(app, mark)
    assert "Zaichyk" not in trail
    assert "Kotyk" not in trail


# --- retention ---------------------------------------------------------------------------


def _stored(app) -> dict[str, list[dict]]:
    """Every row of every table with a personal column, as plain values."""
    with app.app_context():
        return {
            table.name: [dict(row) for row in db.session.execute(sa.select(table)).mappings()]
            for table in Base.metadata.sorted_tables
            if any(is_personal(c) for c in table.columns)
        }


def test_retention_blanks_every_column_marked_personal(app, as_coordinator, world):
    long_ago = utcnow() - dt.timedelta(days=90)
    offer_url = f"/api/v1/housing-offers/{world.offer_id}"
    etag = as_coordinator.get(offer_url).headers["ETag"]
    _ok(as_coordinator.patch(offer_url, json={"status": "withdrawn"}, headers={"If-Match": etag}))
    with app.app_context():
        for model, row_id in ((Household, world.household_id), (HousingOffer, world.offer_id)):
            db.session.execute(
                sa.update(model).where(model.id == uuid.UUID(row_id)).values(updated_at=long_ago)
            )
        db.session.commit()
    before = _stored(app)

    result = app.test_cli_runner().invoke(args=["retention", "purge", "--older-than-days", "30"])
    assert result.exit_code == 0, result.output
    assert "anonymised 1 household(s) and 4 person(s)" in result.output

    after = _stored(app)
    in_scope = [name for name in after if name not in NOT_RETENTION_SCOPE]
    tables = Base.metadata.tables
    for name in in_scope:
        table = tables[name]
        assert before[name], f"{name}: the world fixture writes no row here; extend it"
        rows_before = {tuple(r[c.name] for c in table.primary_key): r for r in before[name]}
        for row in after[name]:
            old = rows_before[tuple(row[c.name] for c in table.primary_key)]
            for column in table.columns:
                if not is_personal(column):
                    continue
                where = f"{name}.{column.name}"
                if column.info.get("kept_by_retention"):
                    assert row[column.name] == old[column.name], where
                elif old[column.name] is None:
                    assert row[column.name] is None, where
                else:
                    assert row[column.name] == column.info.get("placeholder"), where
        for column in table.columns:
            if is_personal(column):
                held = [r[column.name] for r in before[name] if r[column.name] is not None]
                assert held, f"{name}.{column.name}: the world never fills it; extend it"

    # photos of the withdrawn offer are gone with their captions
    assert after["housing_photos"] == []
    # and none of what was sent to those tables survives anywhere in them
    stored = json.dumps({name: after[name] for name in in_scope}, default=str, ensure_ascii=False)
    for table, field, value in world.sent:
        if table in NOT_RETENTION_SCOPE or field == "date_of_birth":
            continue  # birth dates stay: the statistics are read from them
        assert _as_text(value) not in stored, (table, field, value)
