from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.timeline.models import KINDS


class TimelineEntrySchema(ma.Schema):
    """One thing that happened to a household's case, for the team's next visit. Codes and
    ids only, never names or free text."""

    id = fields.UUID(metadata={"description": "The entry's id"})
    household_id = fields.UUID(metadata={"description": "The household whose case it is"})
    occurred_at = fields.AwareDateTime(
        metadata={
            "description": "When it happened (UTC): a visit's device time, a consent's given"
            " time, a review's, revocation's, proposal's decision's or evacuation step's own"
            " time, otherwise the time of the change"
        }
    )
    kind = fields.String(
        validate=validate.OneOf(KINDS),
        metadata={
            "description": "What happened: a visit logged; a consent recorded, verified,"
            " rejected or revoked; a guardian linked or a link changed; the household's"
            " status changed; a member added or their status changed; a housing proposal"
            " made, shown, accepted, declined or withdrawn; a member added to or removed from"
            " an evacuation; an evacuation with members of the household departed, arrived"
            " or was cancelled"
        },
    )
    entity_type = fields.String(
        metadata={
            "description": "The kind of record it is about: visit, consent, guardianship,"
            " household, person, proposal or evacuation"
        }
    )
    entity_id = fields.UUID(metadata={"description": "The record it is about"})
    person_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "The person it concerns (a consent's subject, a guardianship's"
            " child, a member, an evacuation's member); null when it concerns the household"
        },
    )
    actor_id = fields.UUID(
        allow_none=True, metadata={"description": "Who did it (a user's id); null: the system"}
    )
    details = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={
            "description": "Codes and ids by kind: a visit's `outcome`; a consent's `basis`,"
            " `decision`, `review_status`; a link's `relationship` and `legal_status` (or"
            " `before` and `after`); a household's status change's `from`, `to`, `cause`"
            " and `reason`; a member's `status` (or `from` and `to`); a proposal's"
            " `offer_id` (and `places` when accepted); an evacuation member's"
            " `accompanied_by_person_id`, `escort_user_id`, `destination_offer_id` and"
            " `consent_id`; an evacuation step's `person_ids`, the household's members in it"
        },
    )
