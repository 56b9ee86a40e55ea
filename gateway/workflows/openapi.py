"""The Embed Workflow API's part of the gateway's OpenAPI document (gateway/openapi.py merges it).

Every route of api.py is an operation tagged `workflows`. What a request may send comes from the
pydantic models of models.py: a GET or DELETE takes its parameters in the query string (`expand[]`
as a repeated array parameter), a POST or PUT in a JSON or form-encoded body. What the API answers
is built as dicts (views.py), so those schemas are written here by hand, as data; the error shape
is http.py's. The table of routes repeats api.py's, and a test holds the two together.
"""

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.workflows.api import BASE_PATH, ROUTES
from gateway.workflows.models import EXPANDABLE, TriggerParams

__all__ = ["SECURITY_SCHEMES", "TAG", "workflow_paths"]

TAG = "workflows"
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key: sk_ or pk_."},
    "basicAuth": {"type": "http", "scheme": "basic", "description": "The API key as user name."},
}

_REF = "#/components/schemas/{model}"
_BODY_TYPES = ("application/json", "application/x-www-form-urlencoded")
_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"basicAuth": []}]
_QUERY = ("id_type", "user_key", "starting_after", "ending_before")

_STATUS_TEXT = {
    200: "Done",
    400: "Invalid parameters: each wrong one named in `errors`",
    401: "Missing, malformed or unknown API key",
    403: "A publishable key where a secret key is needed",
    404: "No such workflow or user in the key's environment",
    409: "A concurrent request changed the object, a key is taken, or a request with the same "
    "Idempotency-Key is still running",
    413: "Body too large",
    415: "Neither JSON nor form-encoded, or not UTF-8",
    422: "The Idempotency-Key was used on this path with another body, or a trigger named a"
    " workflow never published (NOT_PUBLISHED)",
    503: "Kafka is unavailable; retry later",
}
_IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key on the same path gets the first answer (24 h; "
    "keys starting with `life-` never expire).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """A closed object with every property present, as views.py renders them."""
    return {
        "type": "object",
        "required": sorted(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def _stamps(name: str, nullable: bool = False) -> dict[str, Any]:
    """A time's three renderings (views.stamps)."""
    kind = ["string", "null"] if nullable else "string"
    iso = {"type": kind, "format": "date-time"}
    return {name: iso, f"{name}_string": {"type": kind}, f"{name}_utc": iso}


_STRING, _OPTIONAL_STRING = {"type": "string"}, {"type": ["string", "null"]}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_EXPANDABLE_EVENT = {
    "oneOf": [{"type": "string"}, {"type": "null"}, _ref("WorkflowEventTrigger")],
    "description": "The event's name, or with `expand[]` naming this attribute its trigger object.",
}
_ITEM = {
    "id": _STRING,
    "actions_count": {"type": "integer", "minimum": 0},
    "auto_start": {"type": "boolean"},
    "event_trigger": _EXPANDABLE_EVENT,
    "event_trigger_draft": _EXPANDABLE_EVENT,
    "executions_count": {"type": "integer", "minimum": 0},
    "key": _STRING,
    "name": _STRING,
    "stop_event": _OPTIONAL_STRING,
    "stop_event_draft": _OPTIONAL_STRING,
    "template_status": {"enum": ["draft", "published"]},
    "tenant_key": _STRING,
    "trigger_conditions": _ANY_OBJECT,
    "trigger_conditions_draft": _ANY_OBJECT,
    **_stamps("created_at"),
    **_stamps("updated_at"),
    **_stamps("last_published_at", nullable=True),
}
_RESPONSES: dict[str, dict[str, Any]] = {
    "Workflow": _object(
        _ITEM | {"template": _ANY_OBJECT, "template_draft": _ANY_OBJECT, "stats": _ANY_OBJECT}
    ),
    "WorkflowListItem": _object(_ITEM),
    "WorkflowList": _object(
        {
            "collection": {"type": "array", "items": _ref("WorkflowListItem")},
            "meta": _object(
                {
                    "page_limit": {"type": "integer"},
                    "has_next_page": {"type": "boolean"},
                    "has_previous_page": {"type": "boolean"},
                }
            ),
        }
    ),
    "WorkflowDeleted": _object({"id": _STRING}),
    "CommandAccepted": _object({}),
    "WorkflowEventTrigger": _object(
        {
            "id": _STRING,
            "object": {"const": "event_trigger"},
            "event": _STRING,
            "livemode": {"type": "boolean"},
            **_stamps("created_at"),
        }
    ),
    "WorkflowUser": _object(
        {
            "key": _STRING,
            "object": {"const": "user"},
            "id": _STRING,
            "name": _STRING,
            **_stamps("created_at"),
            "email": _OPTIONAL_STRING,
            "groups": {"type": "array", "items": _STRING},
            "config": _object(
                {
                    "primary_color": _OPTIONAL_STRING,
                    "logo_url": _OPTIONAL_STRING,
                    "user_data": _ANY_OBJECT,
                }
            ),
            "user_data_schema": {"type": "array", "items": _ANY_OBJECT},
        }
    ),
    "WorkflowError": _object(
        {
            "code": {"type": "string", "examples": ["INVALID_REQUEST", "NOT_FOUND"]},
            "message": _STRING,
            "errors": {
                "type": "array",
                "items": _object({"field": _STRING, "reason": _STRING}),
            },
        }
    ),
}


def workflow_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """The API's paths (under BASE_PATH) and the component schemas they refer to."""
    bodies = sorted({r.params for r in ROUTES if _has_body(r.method.lower())}, key=_name)
    refs, definitions = models_json_schema(
        [(model, "validation") for model in bodies], ref_template=_REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path, method, model = route.path, route.method.lower(), route.params
        operation = _operation(path, method, model, route.answer, route.summary)
        if _has_body(method):
            schema = refs[(model, "validation")]
            required = bool(definitions["$defs"][_name(model)].get("required"))
            content = {media_type: {"schema": schema} for media_type in _BODY_TYPES}
            operation["requestBody"] = {"required": required, "content": content}
        paths.setdefault(BASE_PATH + path, {})[method] = operation
    return paths, definitions["$defs"] | _RESPONSES


def _operation(
    path: str, method: str, model: type[BaseModel], answer: str, summary: str
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("id", "key")
        if f"{{{name}}}" in path
    ]
    if method == "post":
        parameters.append(_IDEMPOTENCY_KEY)
    if not _has_body(method):
        parameters += _query_parameters(model)
    responses = {"200": {"description": _STATUS_TEXT[200], "content": _json(answer)}}
    for status in _errors(path, method, model):
        responses[str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": _json("WorkflowError"),
        }
    words = [w.strip("{}") for w in path.split("/") if w]
    return {
        "summary": summary,
        "tags": [TAG],
        "operationId": "_".join(["workflows", method, *words]),
        "security": _SECURITY,
        "parameters": parameters,
        "responses": responses,
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's parameters a query string carries; a nullable one is simply left out."""
    properties = model.model_json_schema()["properties"]
    parameters = []
    if "expand" in properties:
        items = {"type": "string", "enum": list(EXPANDABLE)}
        parameters.append(
            {
                "name": "expand[]",
                "in": "query",
                "required": False,
                "style": "form",
                "explode": True,
                "description": properties["expand"]["description"],
                "schema": {"type": "array", "items": items},
            }
        )
    for name in (name for name in _QUERY if name in properties):
        schema = {k: v for k, v in properties[name].items() if v is not None}  # default: null
        for option in schema.pop("anyOf", []):
            schema |= {} if option == {"type": "null"} else option
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    return parameters


def _errors(path: str, method: str, model: type[BaseModel]) -> list[int]:
    """The error statuses an operation can answer with (see http.py and the operations)."""
    statuses = [400, 401, 403, 413, 415, 503]  # any method's body is read (a GET's too)
    if "{" in path or model is TriggerParams:  # an unknown id or key
        statuses.append(404)
    if method != "get" or path.startswith("/users"):  # a write (fetching a user may make it)
        statuses.append(409)
    if method == "post":
        statuses.append(422)
    return sorted(statuses)


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema)}}


def _has_body(method: str) -> bool:
    return method in ("post", "put")


def _name(model: type[BaseModel]) -> str:
    return model.__name__
