"""Retention: keep as little as needed, for as long as needed.

Households closed more than N days ago (DESIGN §10: a coordinator closes a case, with a
reason; declined and evacuated cases stay open until then) lose their personal data:
names, contacts, addresses, coordinates, notes and other free text, in the household and
everything under it (people, guardians, visits, consents, proposals). What remains —
statuses, dates, decisions, counts — keeps the statistics, and the audit trail, which
never held personal values, stays whole and verifiable. Photos of offers nobody will use
again go too. Running it again changes nothing more.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import ADMIN
from app.auth.permissions import Actor, require_role
from app.consents.models import ConsentRecord
from app.db import Versioned, personal_columns, utcnow
from app.evacuations.models import Evacuation, EvacuationMember
from app.extensions import db
from app.households.models import Guardianship, Household, Person
from app.households.scope import lock_persons
from app.housing.models import HousingOffer, HousingPhoto, HousingProposal
from app.housing.photos import release_blob
from app.idempotency.models import IdempotencyKey
from app.unit_of_work import on_commit
from app.visits.models import Visit, VisitStance

CLOSED_STATUSES = ("closed",)


@dataclass
class PurgeReport:
    households: int = 0
    persons: int = 0
    photos: int = 0
    idempotency_keys: int = 0
    household_ids: list[uuid.UUID] = field(default_factory=list)


def _blanked(model) -> dict:
    """What anonymising writes into each column of ``model`` marked personal (``app.db``'s
    ``personal``): NULL, or the column's placeholder where it held a value (a name that must
    remain, a note a CHECK constraint requires). Columns kept by retention are left out."""
    values = {}
    for column in personal_columns(model):
        if column.info.get("kept_by_retention"):
            continue
        placeholder = column.info.get("placeholder")
        if placeholder is None and not column.nullable:
            raise RuntimeError(f"{column} cannot be NULL: mark it personal(placeholder=...)")
        values[column.name] = (
            None
            if placeholder is None
            else sa.case((column.is_(None), sa.null()), else_=sa.literal(placeholder))
        )
    return values


def _still_personal(model) -> sa.ColumnElement[bool]:
    """Rows of ``model`` that still hold something anonymising would blank."""
    return sa.or_(
        *(
            column.is_not(None)
            if column.info.get("placeholder") is None
            else column != column.info["placeholder"]
            for column in personal_columns(model)
            if not column.info.get("kept_by_retention")
        )
    )


def _anonymise(model, where, **also) -> None:
    """Blank the personal columns of the rows ``where`` selects (and set ``also``); a
    versioned row moves to a new version, so an edit based on what it held is refused."""
    values = {**_blanked(model), **also}
    if issubclass(model, Versioned):
        values["version"] = model.version + 1
    db.session.execute(sa.update(model).where(where).values(values))


def _candidates(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Household.status.in_(CLOSED_STATUSES),
        Household.updated_at < cutoff,
        Household.anonymised_at.is_(None),
    )


def _lock_closed_households(cutoff: dt.datetime) -> list[uuid.UUID]:
    """The households retention may anonymise now, locked in the documented order
    (``lock_persons``): their people first, then the households, in id order.

    The households are read once without a lock to learn whose people to lock, then locked
    and read again: a case reopened meanwhile by a concurrent request (which holds its row)
    is seen reopened once that request commits, and left alone.
    """
    candidates = list(db.session.scalars(sa.select(Household.id).where(_candidates(cutoff))))
    if not candidates:
        return []
    lock_persons(
        db.session.scalars(sa.select(Person.id).where(Person.household_id.in_(candidates)))
    )
    return list(
        db.session.scalars(
            sa.select(Household.id)
            .where(Household.id.in_(candidates), _candidates(cutoff))
            .order_by(Household.id)
            .with_for_update()
        )
    )


def purge(
    actor: Actor, older_than_days: int, *, dry_run: bool = False, now: dt.datetime | None = None
):
    """Anonymise what retention allows; with ``dry_run`` only count it. An administrator's
    duty (the operator's ``retention purge`` command): it reads no case data."""
    require_role(actor, ADMIN, doing="run the retention purge")
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=older_than_days)
    report = PurgeReport()
    report.household_ids = _lock_closed_households(cutoff)
    ids = report.household_ids
    report.households = len(ids)
    report.persons = db.session.scalar(
        sa.select(sa.func.count()).select_from(Person).where(Person.household_id.in_(ids))
    )
    unused_photos = _unused_photos(cutoff)
    report.photos = len(unused_photos)
    report.idempotency_keys = db.session.scalar(
        sa.select(sa.func.count()).where(IdempotencyKey.expires_at <= now)
    )
    if dry_run:
        return report

    if ids:
        _anonymise_cases(ids, now, older_than_days)
    _forget_unused_offers(cutoff, unused_photos)
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    db.session.flush()
    return report


def _anonymise_cases(ids: list[uuid.UUID], now: dt.datetime, older_than_days: int) -> None:
    """Every column the models mark personal, in these (locked) households and everything
    under them, and the evacuations none of whose people is still on record."""
    person_ids = sa.select(Person.id).where(Person.household_id.in_(ids))
    _anonymise(Household, Household.id.in_(ids), anonymised_at=now)
    _anonymise(Person, Person.household_id.in_(ids))
    _anonymise(Guardianship, Guardianship.child_id.in_(person_ids))
    _anonymise(Visit, Visit.household_id.in_(ids))
    _anonymise(
        VisitStance,
        VisitStance.visit_id.in_(sa.select(Visit.id).where(Visit.household_id.in_(ids))),
    )
    _anonymise(ConsentRecord, ConsentRecord.subject_id.in_(person_ids))
    _anonymise(HousingProposal, HousingProposal.household_id.in_(ids))
    # the way out they took: an evacuation none of whose people is still on record
    evacuations = sa.select(EvacuationMember.evacuation_id).where(
        EvacuationMember.person_id.in_(person_ids)
    )
    still_open = (
        sa.select(EvacuationMember.evacuation_id)
        .join(Person, Person.id == EvacuationMember.person_id)
        .join(Household, Household.id == Person.household_id)
        .where(Household.anonymised_at.is_(None))
    )
    _anonymise(
        Evacuation, sa.and_(Evacuation.id.in_(evacuations), Evacuation.id.not_in(still_open))
    )
    for household_id in ids:
        audit.record("anonymise", "households", household_id, {"older_than_days": older_than_days})


def _forget_unused_offers(cutoff: dt.datetime, unused_photos: list[HousingPhoto]) -> None:
    """Offers no family will use again: their photos (each file removed after the commit,
    if no photo uses it), and where they are and whose they were."""
    _anonymise(
        HousingOffer,
        sa.and_(
            HousingOffer.status.in_(("withdrawn", "occupied")),
            HousingOffer.updated_at < cutoff,
            _still_personal(HousingOffer),
        ),
    )
    for photo in unused_photos:
        db.session.delete(photo)
        sha256, content_type = photo.sha256, photo.content_type
        # after the commit, under the file's lock: kept if an upload of the same bytes won
        on_commit(lambda s=sha256, c=content_type: release_blob(s, c))


def _unused_photos(cutoff: dt.datetime) -> list[HousingPhoto]:
    """Photos of offers withdrawn or occupied before the cutoff: no family will see them."""
    return list(
        db.session.scalars(
            sa.select(HousingPhoto)
            .join(HousingOffer, HousingOffer.id == HousingPhoto.offer_id)
            .where(
                HousingOffer.status.in_(("withdrawn", "occupied")),
                HousingOffer.updated_at < cutoff,
            )
        )
    )
