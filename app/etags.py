"""ETags that follow the representation: flask-smorest's, answered after the commit.

A JSON answer's ETag is flask-smorest's hash of what the answer shows (``_generate_etag``
over the dumped body), so it changes whenever the representation does — a household's
member count, a person's age, an offer's photos — not only when its row is written.

Three things of flask-smorest's ``EtagMixin`` do not fit this application; the mixin
below overrides only those, and says why:

* its 304 is an exception raised inside the view, which our unit of work would roll back,
  audit records of the read included: here the unit of work answers 304 after its commit
  (``not_modified``);
* its 428 comes before the view, so before the 404/403 a caller is owed first, and with
  flask-smorest's body instead of our problem: here the view checks ``If-Match`` itself
  (``require_if_match``), under the row lock it takes to change the row;
* a DELETE may answer with a representation (removing an evacuation's member answers with
  the evacuation): it carries that representation's ETag, and it is not conditional.

An answer stamped with the time it was computed (eligibility's ``evaluated_at``, the
report's ``generated_at``) is never byte-equal twice, so a strong tag over it would never
answer 304. Its view calls ``set_weak_etag``: a weak tag (``W/"..."``) over the dump without
the stamp, saying "an equivalent representation" (RFC 9110, 8.8.1), which If-None-Match
compares weakly and so answers 304 while the figures stand.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask_smorest.etag import EtagMixin, _get_etag_ctx
from flask_smorest.utils import resolve_schema_instance
from werkzeug.datastructures import ETags
from werkzeug.http import quote_etag

from app.errors import PreconditionFailed, PreconditionRequired

#: The OpenAPI components flask-smorest's ETag documentation refers to, described for us.
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The ETag you last read: 428 when missing, 412 (with the current ETag) "
    "when the resource has changed since; `*` matches any.",
    "schema": {"type": "string"},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "description": "The ETag of the copy you hold: 304 without a body when it is current.",
    "schema": {"type": "string"},
}
ETAG = {
    "description": "Tag of this representation; it changes whenever the representation "
    "does. Send it back as If-None-Match (304 when unchanged) or If-Match (412 when stale).",
    "schema": {"type": "string"},
}
#: POST /households/{id}/status: If-Match is honoured when sent, not required.
OPTIONAL_IF_MATCH = {
    **IF_MATCH,
    "required": False,
    "description": "The ETag last read: when sent, 412 (with the current ETag) if the "
    "resource has changed since.",
}

SchemaLike = ma.Schema | type[ma.Schema]


def register_etag_components(spec: Any) -> None:
    """Register the components named by flask-smorest's ``_prepare_etag_doc``, with words
    a client developer can act on (flask-smorest's say only "Tag to check against")."""
    spec.components.parameter("IF_NONE_MATCH", "header", IF_NONE_MATCH, lazy=True)
    spec.components.parameter("IF_MATCH", "header", IF_MATCH, lazy=True)
    spec.components.header("ETAG", ETAG, lazy=True)


class RepresentationEtagMixin(EtagMixin):
    """flask-smorest's ETag handling with a 304 that keeps the unit of work, and If-Match
    checked by the view under its row lock (see the module docstring)."""

    #: Our DELETEs are not conditional (they remove a link or a photo, judged by the rules
    #: under lock); the one that answers with a representation carries its ETag.
    METHODS_NEEDING_CHECK_ETAG = ["PUT", "PATCH"]
    METHODS_ALLOWING_SET_ETAG = [*EtagMixin.METHODS_ALLOWING_SET_ETAG, "DELETE"]

    def _check_precondition(self) -> None:
        """Start the request's ETag state afresh, and leave If-Match to the view.

        flask-smorest raises its 428 here, before the view: a caller would learn "send
        If-Match" before "no such household" (404) or "not yours" (403), and in
        flask-smorest's words. ``require_if_match`` answers it instead, in the view, where
        the current representation is known; a PATCH that forgets to call it still trips
        flask-smorest's "ETag not checked" warning (an error under pytest).
        """
        _get_etag_ctx().clear()  # an app context shared by two requests shares nothing here

    def _prepare_etag_doc(self, doc: dict, doc_info: dict, **kwargs: Any) -> dict:
        """flask-smorest's ETag documentation, with a 304 that says what it carries."""
        doc = super()._prepare_etag_doc(doc, doc_info, **kwargs)
        responses = doc.get("responses", {})
        if 304 in responses:
            responses[304] = {
                "description": "Not modified: the copy you hold (If-None-Match) is current. "
                "No body; the ETag is repeated.",
                "headers": {"ETag": "ETAG"},
            }
        return doc

    def _set_etag_in_response(self, response: Any) -> None:
        """flask-smorest's, and weak when the view asked for it (``set_weak_etag``)."""
        super()._set_etag_in_response(response)
        ctx = _get_etag_ctx()
        if ctx.get("weak") and request.method in self.METHODS_ALLOWING_SET_ETAG:
            response.set_etag(ctx["etag"], weak=True)

    def _check_not_modified(self, etag: str) -> None:
        """Never raise NotModified from inside the view.

        The exception would roll back the unit of work, and with it the record that the
        caller read the data — which a 304 confirms to them as surely as a 200 shows it.
        ``Resource.dispatch_request`` answers 304 after its commit (``not_modified``).
        """


def representation_etag(resource: Any, schema: SchemaLike) -> str:
    """The ETag ``resource`` has when answered with ``schema``: flask-smorest's hash of the
    dump, exactly as ``@blp.etag`` computes it for the answer (unquoted)."""
    return EtagMixin._generate_etag(resolve_schema_instance(schema).dump(resource))


#: The suffixes flask-compress may append to a strong ETag (``"abc"`` -> ``"abc:gzip"``).
CODING_SUFFIXES = (":zstd", ":br", ":gzip", ":deflate")


def set_weak_etag(resource: Any, schema: SchemaLike, *, exclude: tuple[str, ...]) -> None:
    """Answer with a weak ETag over the dump of ``resource`` without the ``exclude`` fields
    (a timestamp of when the answer was computed), for the view decorated with ``etag``."""
    dumped = resolve_schema_instance(schema).dump(resource)
    kept = {key: value for key, value in dumped.items() if key not in exclude}
    ctx = _get_etag_ctx()
    ctx["etag"] = EtagMixin._generate_etag(kept)
    ctx["weak"] = True


def _bare(tag: str) -> str:
    """A tag as we gave it out. flask-compress appends the content coding to the strong
    ETag of a compressed answer (``"abc:gzip"``); a client sends that form back. Only those
    codings are taken off: ``"abc:x"`` is another tag, and matches nothing of ours."""
    for suffix in CODING_SUFFIXES:
        if tag.endswith(suffix):
            return tag[: -len(suffix)]
    return tag


def _matching(tags: ETags, etag: str, *, weak: bool) -> str | None:
    """The tag of ``tags`` (as sent) that matches ``etag``, or None. If-Match compares
    strongly (weak tags never match), If-None-Match weakly (RFC 9110, 13.1.1-2). An empty
    tag (``""``, which werkzeug reads as None) matches nothing."""
    found = sorted(tag for tag in tags.as_set(include_weak=weak) if tag and _bare(tag) == etag)
    return found[0] if found else None


def require_if_match(resource: Any, schema: SchemaLike) -> None:
    """Refuse a change made without ``If-Match`` (428) or against a representation that is
    no longer current (412, with the current ETag). ``*`` matches any.

    Call it where the row is locked, with the resource as the answer would show it (for a
    household, with its counts loaded) and the answer's schema: the ETag compared is that of
    the current representation, not of a version number.
    """
    _get_etag_ctx()["etag_checked"] = True  # flask-smorest's "ETag not checked" warning
    if not request.headers.get("If-Match"):
        raise PreconditionRequired(
            "Send If-Match with the ETag you last read, so no one's change is overwritten."
        )
    if request.if_match.star_tag:
        return
    current = representation_etag(resource, schema)
    if _matching(request.if_match, current, weak=False) is None:
        raise PreconditionFailed(
            "This resource has changed since you read it; fetch it again and retry.",
            headers={"ETag": quote_etag(current)},
        )


def not_modified(response: Any) -> Any:
    """Turn a committed 200 to a GET or HEAD into 304 when If-None-Match holds its ETag.

    The 304 keeps the ETag (as the client sent it, coding suffix included, so a cache
    finds what it holds; weak if the answer's was) and the caching headers, and drops the
    body and its metadata.
    """
    if (
        request.method not in ("GET", "HEAD")
        or not isinstance(response, Response)
        or response.status_code != 200
        or not request.if_none_match
    ):
        return response
    etag, weak = response.get_etag()
    if etag is None:
        return response
    if request.if_none_match.star_tag:
        matched: str | None = etag
    else:
        matched = _matching(request.if_none_match, etag, weak=True)
    if matched is None:
        return response
    response.status_code = 304
    response.set_etag(matched, weak=weak)
    response.set_data(b"")
    for name in ("Content-Type", "Content-Length"):
        response.headers.pop(name, None)
    return response
