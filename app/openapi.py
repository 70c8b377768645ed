"""The OpenAPI document as a contract: what each operation's code declares, written down.

Field tablets and coordinators' tools are generated from ``/api/v1/openapi.json``, so every
operation states, from what its view declares rather than from words copied by hand:

* who may call it: ``x-roles`` and a sentence in its description, from ``@roles`` or
  ``@public`` (app/auth/access.py); a public operation has ``security: []``;
* the problems it may answer, each an RFC 9457 problem (``application/problem+json``): 401
  and 403 when it needs a token, 404 when its path names a record, 400, 413 and 415 when it
  takes a body, 422 when it takes arguments, 409 when it takes a client-chosen ``id`` or an
  ``Idempotency-Key``, 503 when it reads the database (every operation that needs a token;
  a public one that does declares its own 503). A refusal a view declares itself
  (``@blp.alt_response(409, description=...)``: when the rule says no, and which codes and
  ``reasons`` come back) gets the problem schema and is merged with these;
* its headers: ``X-Request-ID`` on every request and answer, ``Idempotency-Key`` and
  ``Idempotent-Replayed`` where ``@idempotent`` applies, ``Location`` on every 201,
  ``Retry-After`` on every 429 and 503 and on the in-flight 409, ``WWW-Authenticate`` on
  every 401;
* 412 ``stale_version`` (with the current ETag) wherever it takes If-Match, 428
  ``if_match_required`` where If-Match is required; the default answer names the problems
  any write may meet (409 ``concurrent_change``, 412 ``stale_version``).

``Blueprint.add_url_rule`` (app/web/blueprint.py) notes what a view declares (``record_contract``);
``document_contract``, one of the Blueprint's documentation callbacks, writes it into the
operation when the document is built. The shared parts are ``components`` (responses,
headers, parameters), registered by ``app.openapi_components.register_components``, so the
document stays small.
ETag, If-Match and If-None-Match are documented by flask-smorest's ``@blp.etag`` (see
app/etags.py), not here; the 412 and 428 it names are the components ``PROBLEMS`` describes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from flask_smorest.utils import deepupdate, resolve_schema_instance

from app.errors import PROBLEM_MEDIA_TYPE
from app.openapi_components import PROBLEMS, header_refs, status_name

#: A variable in a Flask rule (``<uuid:household_id>``), its name captured: the path names
#: a record. app/web/blueprint.py describes each such path parameter by name.
RULE_VARIABLE = re.compile(r"<(?:[^<>]*:)?(\w+)>")

#: A role as the sentence "Roles: ..." of an operation's description names it.
ROLE_NAMES = {
    "field_worker": "field worker",
    "coordinator": "coordinator",
    "admin": "administrator",
}

# --- per operation -------------------------------------------------------------------------


def record_contract(endpoint_docs: dict, view: Any, rule: str) -> None:
    """Note, on each operation of a route, what its view method declares: who may call it
    (``_access``, as ``access_policy`` reads it), whether it is ``@idempotent``, and whether
    its path names a record. ``endpoint_docs`` is the Blueprint's ``_docs[endpoint]``."""
    for method, doc in endpoint_docs.items():
        if method == "parameters":  # the route's own parameters, not an operation
            continue
        function = getattr(view, method) if isinstance(view, type) else view
        access = getattr(function, "_access", None)
        doc["contract"] = {
            "access": access if access is None or isinstance(access, str) else set(access),
            "idempotent": bool(getattr(function, "_idempotent", False)),
            "path_parameters": bool(RULE_VARIABLE.search(rule)),
        }


def _fold_manual_doc(doc: dict, doc_info: dict) -> None:
    """Take ``@blp.doc(responses=..., parameters=...)`` in now, as flask-smorest would later
    (where its list of parameters would replace, not join, the ones documented here)."""
    manual = doc_info.get("manual_doc", {})
    responses = {str(code): response for code, response in doc.get("responses", {}).items()}
    for code, response in manual.pop("responses", {}).items():
        responses[str(code)] = deepupdate(responses.get(str(code), {}), response)
    doc["responses"] = responses
    if "parameters" in manual:
        doc["parameters"] = [*doc.get("parameters", []), *manual.pop("parameters")]


def _describe_access(doc: dict, doc_info: dict, access: Any) -> None:
    from app.auth.access import PUBLIC
    from app.auth.models import ROLES

    if access == PUBLIC:
        doc["x-roles"] = []
        doc["security"] = []
        sentence = "Public: no token needed."
    elif access:
        allowed = [role for role in ROLES if role in access]
        doc["x-roles"] = allowed
        sentence = f"Roles: {', '.join(ROLE_NAMES[role] for role in allowed)}."
    else:
        doc["x-roles"] = []
        sentence = "Roles: none; every caller is refused."
    docstring = doc_info.setdefault("docstring", {})
    before = docstring.get("description")
    docstring["description"] = f"{before}\n\n{sentence}" if before else sentence


def _takes_client_id(request_body: Mapping | None) -> bool:
    """Whether the body may name the new record's ``id`` (409 ``duplicate_id`` when taken)."""
    for media in (request_body or {}).get("content", {}).values():
        schema = media.get("schema")
        if schema is None or isinstance(schema, Mapping | str):  # already a reference
            continue
        if "id" in resolve_schema_instance(schema).load_fields:
            return True
    return False


def _problems(doc: dict, doc_info: dict, contract: dict) -> dict[int, list[str]]:
    """The shared problems this operation may answer, by status."""
    from app.auth.access import PUBLIC

    wanted: dict[int, list[str]] = defaultdict(list)
    if contract["access"] != PUBLIC:
        wanted[401].append(status_name(401))
        wanted[403].append(status_name(403))
    if contract["path_parameters"]:
        wanted[404].append(status_name(404))
    if "requestBody" in doc:
        for status in (400, 413, 415):
            wanted[status].append(status_name(status))
    if doc_info.get("arguments"):
        wanted[422].append(status_name(422))
    if _takes_client_id(doc.get("requestBody")):
        wanted[409].append("DUPLICATE_ID")
    if contract["idempotent"]:
        wanted[400].append("INVALID_IDEMPOTENCY_KEY")
        wanted[409].append("REQUEST_IN_FLIGHT")
        wanted[422].append("IDEMPOTENCY_KEY_REUSED")
    for status in _if_match_statuses(doc.get("parameters", ())):
        wanted[status].append(status_name(status))
    # keys are strings once _fold_manual_doc ran; an int is flask-smorest's, should it not
    if contract["access"] != PUBLIC or {"503", 503} & doc["responses"].keys():
        # resolving the token reads the database; a public operation that does says so
        wanted[503].append(status_name(503))
    return wanted


def _if_match_statuses(parameters: Any) -> list[int]:
    """412 when the operation takes If-Match, and 428 too when it requires it: the
    ``IF_MATCH`` component of ``@blp.etag`` (whose 412 and 428 flask-smorest documents
    already, by these names), or one the view documents itself (app/etags.py's
    ``OPTIONAL_IF_MATCH``: 412 when sent, never 428)."""
    for parameter in parameters:
        if parameter == "IF_MATCH":
            return [412, 428]
        if isinstance(parameter, Mapping) and parameter.get("name") == "If-Match":
            return [412, 428] if parameter.get("required") else [412]
    return []


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _add_problem(responses: dict, status: int, names: list[str]) -> None:
    """One answer per status: the shared component itself when it is the only one, else
    one answer that tells every case (the operation's own first)."""
    code = str(status)
    own = responses.get(code)
    if isinstance(own, str):
        if own not in PROBLEMS:  # a component someone chose on purpose
            return
        names = [own, *(name for name in names if name != own)]
        own = None
    if own is None and len(names) == 1:
        responses[code] = names[0]
        return
    merged = dict(own or {})
    texts = [_sentence(merged["description"])] if merged.get("description") else []
    texts += [PROBLEMS[name].description for name in names]
    merged["description"] = " ".join(texts)
    headers = merged.setdefault("headers", {})
    for name in names:
        for header, component in header_refs(PROBLEMS[name].headers).items():
            headers.setdefault(header, component)
    responses[code] = merged


def _complete(response: dict, code: str, contract: dict, error_schema: Any) -> None:
    """The headers every answer of this kind carries, and the problem schema on errors."""
    headers = response.setdefault("headers", {})
    headers.setdefault("X-Request-ID", "X-Request-ID")
    if code[0] in "45" and "content" not in response:
        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": error_schema}}
    if code in ("429", "503"):
        headers.setdefault("Retry-After", "Retry-After")
    if code == "401":
        headers.setdefault("WWW-Authenticate", "WWW-Authenticate")
    if code == "201":
        headers.setdefault("Location", "Location")
    if contract["idempotent"] and code[0] == "2":
        headers.setdefault("Idempotent-Replayed", "Idempotent-Replayed")


def document_contract(doc: dict, doc_info: dict, *, api: Any, **kwargs: Any) -> dict:
    """A Blueprint documentation callback: write what ``record_contract`` noted."""
    contract = doc_info.get("contract")
    if contract is None:
        return doc
    _fold_manual_doc(doc, doc_info)
    _describe_access(doc, doc_info, contract["access"])
    responses = doc["responses"]
    for status, names in _problems(doc, doc_info, contract).items():
        _add_problem(responses, status, names)
    for code, response in responses.items():
        if isinstance(response, Mapping):
            _complete(response, code, contract, api.ERROR_SCHEMA)
    parameters = ["X-Request-ID"]
    if contract["idempotent"]:
        parameters.append("Idempotency-Key")
    doc["parameters"] = [*doc.get("parameters", []), *parameters]
    return doc
