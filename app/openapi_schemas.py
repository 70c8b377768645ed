"""Request and answer schemas in the document, each typed as what crosses the wire.

Clients are generated from ``/api/v1/openapi.json`` (issue 9), so a component must not let
a client set what the server refuses, nor leave unsure what an answer always carries:

* **A request body is a component of its own.** ``Blueprint.arguments`` (app/web/blueprint.py) loads
  a body with ``request_schema(schema)``: the schema without the fields the server sets (its
  dump-only fields, excluded by ``Meta``, so sending one is still 422 "Unknown field."), its
  nested bodies likewise. The same class is loaded and documented: docs == behaviour. Its
  component is ``<Name>Input`` when ``<Name>`` is also an answer (``HouseholdInput``,
  ``ConsentInput``, ``TeamInput``), else ``<Name>`` (``HouseholdUpdate``, ``TokenRequest``):
  see ``schema_name``.
* **An answer lists what it always carries as required.** Marshmallow dumps every field of
  an object, null when it has no value; a field an answer may leave out (a problem's
  ``detail``, ``errors`` and ``reasons``) says so with ``metadata={MAY_BE_ABSENT: True}``.
* **An answer is open, a request closed.** A request body keeps apispec's
  ``additionalProperties: false`` (its schema refuses unknown fields: 422), an answer drops
  it: a minor release may add fields to an answer, which a generated client must take.
* **An enum is one generated class.** An answer's enum is a component of its own,
  ``<Answer><Field>`` (``ConsentBasis``, ``VisitSafety``, ``HouseholdNeedsItem`` for a
  list's items), which a request body made from that answer schema (``ConsentInput``,
  ``HouseholdUpdate``) refers to when its values are the same; null is the other branch of
  a nullable one's union (``None | VisitSafety``). Any other enum stays inline with a title
  (its field's name), so that a nullable one is still one class, not one per branch.
  Values the server only ever sets itself (``metadata={SET_BY_SERVER: ("evacuated",)}``)
  are left out of a request body's enum; answers keep every value.
* **A nullable nested object** is ``anyOf: [{"$ref": ...}, NULL_ONLY]``, not apispec's
  ``anyOf`` with a free-form object, which generated models would accept as any dict:
  typed ``Authority | None``, and a null that strict OpenAPI 3.0.3 validators accept.
"""

from __future__ import annotations

import copy
from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import get_fields, resolve_schema_cls
from apispec.ext.marshmallow.openapi import OpenAPIConverter

#: Field metadata: an answer may leave this field out (it is sent only when it has a value).
MAY_BE_ABSENT = "may_be_absent"
#: Field metadata: enum values only the server sets; a request body's enum leaves them out.
SET_BY_SERVER = "set_by_server"
#: The other branch of a nullable nested object: null only. ``nullable`` needs a ``type``
#: beside it (OpenAPI 3.0.3: it adds null to that type; linters such as Redocly's refuse it
#: alone), and ``enum: [null]`` then leaves null as the only value of that branch.
NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}
#: Where ``arguments`` takes a body (one component), not parameters.
BODY_LOCATIONS = frozenset({"json", "form", "files", "multipart"})

#: Schemas given to ``response``/``alt_response``; with what they nest: the answers.
_answer_roots: set[type[ma.Schema]] = set()
_request_schemas: dict[type[ma.Schema], type[ma.Schema]] = {}


def note_answer(schema: Any) -> None:
    """Remember that ``schema`` (a class or an instance, or None) is dumped in an answer."""
    if schema is not None:
        _answer_roots.add(_schema_class(schema))


def _schema_class(schema: Any) -> type[ma.Schema]:
    resolved = resolve_schema_cls(schema)
    return resolved[0] if isinstance(resolved, list) else resolved


def _nested_classes(field: ma.fields.Field) -> list[type[ma.Schema]]:
    """The schema classes a field nests (a Nested field, or a list or dict of them)."""
    if isinstance(field, ma.fields.Nested) and isinstance(field.nested, type | ma.Schema):
        return [_schema_class(field.nested)]
    inner = [getattr(field, "inner", None), getattr(field, "value_field", None)]
    return [cls for part in inner if part is not None for cls in _nested_classes(part)]


def _answered() -> set[type[ma.Schema]]:
    """Every schema class dumped in some answer, nested ones included."""
    seen: set[type[ma.Schema]] = set()
    todo = list(_answer_roots)
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for field in cls._declared_fields.values():
            if not field.load_only:
                todo.extend(_nested_classes(field))
    return seen


def _server_set(schema: type[ma.Schema]) -> list[str]:
    meta = schema.Meta
    excluded = set(getattr(meta, "exclude", ()))
    dump_only = set(getattr(meta, "dump_only", ()))
    return [
        name
        for name, field in schema._declared_fields.items()
        if (field.dump_only or name in dump_only) and name not in excluded
    ]


def _with_request_nesting(field: ma.fields.Field) -> ma.fields.Field | None:
    """A copy of ``field`` whose nested schemas are their request schemas; None if none."""
    if not _nested_classes(field):
        return None
    field = copy.deepcopy(field)
    if isinstance(field, ma.fields.Nested):
        field.nested = request_schema(_schema_class(field.nested))
        return field
    for name in ("inner", "value_field"):
        part = getattr(field, name, None)
        if part is not None and _nested_classes(part):
            setattr(field, name, _with_request_nesting(part))
    return field


def request_schema(schema: type[ma.Schema]) -> type[ma.Schema]:
    """What a client sends as ``schema``: a subclass without the fields the server sets.

    Loaded and documented alike; its ``Meta`` excludes the dump-only fields, so a client
    that sends one gets 422 naming it, as before. Nested bodies are their request schemas.
    """
    if schema in _request_schemas:
        return _request_schemas[schema]
    meta = schema.Meta
    exclude = (*getattr(meta, "exclude", ()), *_server_set(schema))
    attrs: dict[str, Any] = {
        "Meta": type("Meta", (meta,), {"exclude": exclude}),
        "__doc__": schema.__doc__,
        "__module__": schema.__module__,
        "request_for": schema,
    }
    for name, field in schema._declared_fields.items():
        if name not in exclude and not field.dump_only:
            replaced = _with_request_nesting(field)
            if replaced is not None:
                attrs[name] = replaced
    name = schema.__name__.removesuffix("Schema") + "InputSchema"
    _request_schemas[schema] = type(name, (schema,), attrs)
    return _request_schemas[schema]


def _request_for(schema: Any) -> type[ma.Schema] | None:
    """The schema a request schema was made from; None for any other schema."""
    return _schema_class(schema).__dict__.get("request_for")


def _base_name(cls: type) -> str:
    name = cls.__name__
    return name.removesuffix("Schema") or name


def schema_name(schema: Any) -> str:
    """The component name: the class name without ``Schema``; a request schema takes its
    original's, with ``Input`` when the original is also an answer (whose name it keeps)."""
    original = _request_for(schema)
    if original is None:
        return _base_name(_schema_class(schema))
    return _base_name(original) + ("Input" if original in _answered() else "")


def _title(field_name: str) -> str:
    return field_name.replace("_", " ").capitalize()


def _pascal(field_name: str) -> str:
    return "".join(part.capitalize() for part in field_name.split("_"))


def _enum_holder(prop: dict) -> tuple[dict, bool] | None:
    """The dict that holds the property's enum, and whether it is a list's items."""
    if "enum" in prop:
        return prop, False
    items = prop.get("items")
    if prop.get("type") == "array" and isinstance(items, dict) and "enum" in items:
        return items, True
    return None


class ContractConverter(OpenAPIConverter):
    """apispec's converter with the rules above for components and nullable nesting."""

    def field2nullable(self, field: ma.fields.Field, ret: dict) -> dict:
        """A nullable nested object: the object, or null and nothing else."""
        if field.allow_none and self.openapi_version.major == 3 and self.openapi_version.minor < 1:
            if "$ref" in ret:
                return {"anyOf": [{"$ref": ret.pop("$ref")}, NULL_ONLY]}
            if len(ret.get("allOf", ())) == 1:
                return {"anyOf": [*ret.pop("allOf"), NULL_ONLY]}
        return super().field2nullable(field, ret)

    def schema2jsonschema(self, schema: Any) -> dict:
        jsonschema = super().schema2jsonschema(schema)
        is_request = _request_for(schema) is not None
        properties = jsonschema.get("properties", {})
        always = []
        for name, field in get_fields(schema).items():
            key = field.data_key or name
            if key not in properties:
                continue
            if is_request and field.metadata.get(SET_BY_SERVER) and "enum" in properties[key]:
                refused = field.metadata[SET_BY_SERVER]
                properties[key]["enum"] = [v for v in properties[key]["enum"] if v not in refused]
            properties[key] = self._named_enum(schema, name, properties[key])
            if not (field.load_only or field.metadata.get(MAY_BE_ABSENT)):
                always.append(key)
        if not is_request:
            if always:
                jsonschema["required"] = sorted(always)
            else:
                jsonschema.pop("required", None)
            # apispec's reading of unknown=RAISE, true of what is loaded, not of what is
            # dumped: an answer may gain fields in a minor release (app/api.py API_VERSION)
            jsonschema.pop("additionalProperties", None)
        return jsonschema

    def _choices(self, field: ma.fields.Field) -> list:
        field = getattr(field, "inner", field)
        return [value for value in self.field2choices(field).get("enum", []) if value is not None]

    def _enum_owner(self, schema: Any, name: str, values: list) -> type[ma.Schema] | None:
        """The answer schema whose enum this is: the schema itself if an answer, else the
        first answer schema its request schema comes from with that field's very values."""
        answered = _answered()
        cls = _schema_class(schema)
        for owner in (cls.__dict__.get("request_for") or cls).__mro__:
            field = getattr(owner, "_declared_fields", {}).get(name)
            if owner in answered and field is not None and self._choices(field) == values:
                return owner
        return None

    def _named_enum(self, schema: Any, name: str, prop: dict) -> dict:
        """An enum as a component of its own, ``<Answer><Field>`` (``ConsentBasis``), which
        requests share with answers: one generated class. Else inline, with a title (one
        class for a nullable enum, not one per branch of the union)."""
        found = _enum_holder(prop)
        if found is None:
            return prop
        holder, is_items = found
        values = [value for value in holder["enum"] if value is not None]
        owner = self._enum_owner(schema, name, values)
        if owner is None:
            if not is_items:
                prop.setdefault("title", _title(name))
            return prop
        component = schema_name(owner) + _pascal(name) + ("Item" if is_items else "")
        definition = {
            "type": holder.get("type", "string"),
            "enum": values,
            "description": f"The values of {schema_name(owner)}'s `{name}`.",
        }
        schemas = self.spec.components.schemas
        if component not in schemas:
            self.spec.components.schema(component, definition)
        elif schemas[component] != definition:
            raise ValueError(f"Two different enums would be named {component}")
        ref = self.spec.components.get_ref("schema", component)
        if is_items:
            return {**prop, "items": ref}
        rest = {k: v for k, v in prop.items() if k not in ("type", "enum", "nullable", "title")}
        if None in holder["enum"] or prop.get("nullable"):
            return {**rest, "anyOf": [ref, NULL_ONLY]}
        return {**rest, "allOf": [ref]}


class ContractMarshmallowPlugin(MarshmallowPlugin):
    """The marshmallow plugin with ``ContractConverter`` and ``schema_name``."""

    Converter = ContractConverter

    def __init__(self) -> None:
        super().__init__(schema_name_resolver=schema_name)
