"""Retention: keep as little as needed, for as long as needed.

Households closed, declined or evacuated more than N days ago lose their personal data:
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
from app.consents.models import ConsentRecord
from app.db import utcnow
from app.evacuations.models import Evacuation, EvacuationMember
from app.extensions import db, on_commit
from app.households.models import Guardianship, Household, Person
from app.housing import photos
from app.housing.models import HousingOffer, HousingPhoto, HousingProposal
from app.idempotency.models import IdempotencyKey
from app.visits.models import Visit, VisitStance

CLOSED_STATUSES = ("closed", "declined", "evacuated")
ANONYMISED_NAME = "(anonymised)"
REMOVED = "(removed)"


@dataclass
class PurgeReport:
    households: int = 0
    persons: int = 0
    photos: int = 0
    idempotency_keys: int = 0
    household_ids: list[uuid.UUID] = field(default_factory=list)


def _blank(model, where, **values) -> None:
    db.session.execute(sa.update(model).where(where).values(**values))


def purge(older_than_days: int, *, dry_run: bool = False, now: dt.datetime | None = None):
    """Anonymise what retention allows; with ``dry_run`` only count it."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=older_than_days)
    report = PurgeReport()
    # locked: a case reopened by a concurrent request is seen reopened, and left alone
    report.household_ids = list(
        db.session.scalars(
            sa.select(Household.id)
            .where(
                Household.status.in_(CLOSED_STATUSES),
                Household.updated_at < cutoff,
                Household.anonymised_at.is_(None),
            )
            .with_for_update()
        )
    )
    ids = report.household_ids
    report.households = len(ids)
    person_ids = sa.select(Person.id).where(Person.household_id.in_(ids))
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
        _blank(
            Household,
            Household.id.in_(ids),
            address_description=None,
            latitude=None,
            longitude=None,
            contact_phone=None,
            notes=None,
            anonymised_at=now,
            version=Household.version + 1,
        )
        _blank(
            Person,
            Person.household_id.in_(ids),
            full_name=ANONYMISED_NAME,
            medical_notes=None,
            version=Person.version + 1,
        )
        _blank(
            Guardianship,
            sa.and_(Guardianship.child_id.in_(person_ids), Guardianship.external_name.is_not(None)),
            external_name=ANONYMISED_NAME,
            external_contact=None,
        )
        _blank(Visit, Visit.household_id.in_(ids), notes=None)
        _blank(
            VisitStance,
            VisitStance.visit_id.in_(sa.select(Visit.id).where(Visit.household_id.in_(ids))),
            note=None,
        )
        consents = ConsentRecord.subject_id.in_(person_ids)
        _blank(ConsentRecord, consents, witness_name=None, notes=None, authority_officer_name=None)
        _blank(
            ConsentRecord,
            sa.and_(consents, ConsentRecord.review_note.is_not(None)),
            review_note=REMOVED,
        )
        _blank(
            ConsentRecord,
            sa.and_(consents, ConsentRecord.revocation_reason.is_not(None)),
            revocation_reason=REMOVED,
        )
        _blank(HousingProposal, HousingProposal.household_id.in_(ids), notes=None, reason=None)
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
        _blank(
            Evacuation,
            sa.and_(Evacuation.id.in_(evacuations), Evacuation.id.not_in(still_open)),
            meeting_point=REMOVED,
            route_notes=None,
        )
        for household_id in ids:
            audit.record(
                "anonymise", "households", household_id, {"older_than_days": older_than_days}
            )
    # offers no family will use again: their photos, and where they are and whose they were
    _blank(
        HousingOffer,
        sa.and_(
            HousingOffer.status.in_(("withdrawn", "occupied")),
            HousingOffer.updated_at < cutoff,
            sa.or_(
                HousingOffer.address.is_not(None),
                HousingOffer.provider_name.is_not(None),
                HousingOffer.provider_contact.is_not(None),
            ),
        ),
        address=None,
        provider_name=None,
        provider_contact=None,
        version=HousingOffer.version + 1,
    )
    for photo in unused_photos:
        db.session.delete(photo)
        sha256, content_type = photo.sha256, photo.content_type
        on_commit(lambda s=sha256, c=content_type: _remove_if_unused(s, c))
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    db.session.flush()
    return report


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


def _remove_if_unused(sha256: str, content_type: str) -> None:
    with db.engine.connect() as connection:
        still_used = connection.scalar(
            sa.select(HousingPhoto.id).where(HousingPhoto.sha256 == sha256).limit(1)
        )
    if still_used is None:
        photos.remove(sha256, content_type)
