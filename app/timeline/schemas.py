from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app.timeline.models import KINDS


class TimelineEntrySchema(ma.Schema):
    id = fields.UUID()
    household_id = fields.UUID()
    occurred_at = fields.AwareDateTime(metadata={"description": "When it happened"})
    kind = fields.String(metadata={"description": ", ".join(KINDS)})
    entity_type = fields.String(
        metadata={"description": "visit, consent, guardianship or household"}
    )
    entity_id = fields.UUID()
    person_id = fields.UUID(allow_none=True)
    actor_id = fields.UUID(allow_none=True, metadata={"description": "Who did it"})
    details = fields.Dict(keys=fields.String(), values=fields.Raw())
