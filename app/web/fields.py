"""Fields and words that many resources' schemas share."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma

#: A name or a place made only of spaces says nothing; schemas refuse it.
NOT_BLANK = ma.validate.Regexp(r"\s*\S", error="Must not be blank.")

#: The document's words for fields that many resources share.
CLIENT_ID_DESCRIPTION = (
    "Client-chosen UUID, optional on create (the server picks one otherwise), so a device"
    " can refer to the record before it is sent. An id already taken is 409 `duplicate_id`:"
    " a retried create never makes a second record. Fixed once created."
)
VERSION_DESCRIPTION = (
    "Set by the server: goes up with every change to the record. To change it, send the"
    " `ETag` of your last read in `If-Match`."
)


class AwareDateTime(ma.fields.AwareDateTime):
    """A time with its offset that can also be told in UTC (year 1 at +01:00 cannot)."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment.astimezone(dt.UTC)
        except OverflowError:
            raise ma.ValidationError("Not a time that can be stored.") from None
        return moment


class EmptySchema(ma.Schema):
    """The body of an action that needs no data (an empty object, or no body)."""
