"""The gateway's OpenAPI 3.1 document, built from the endpoints and their body models, and the
Embed Workflow API's operations (gateway/workflows/openapi.py, tagged `workflows`).

`python -m gateway.openapi` rewrites `gateway/openapi.json`; a test keeps the file in sync, and
the gateway serves it at `/openapi.json`.
"""

import json
import re
from typing import Any

from pydantic.json_schema import models_json_schema

from gateway.formats import Endpoint
from gateway.workflows.openapi import SECURITY_SCHEMES, workflow_paths

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_JSON = "application/json"
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_STATUS_TEXT = {
    200: "Accepted: Kafka has the event",
    202: "Accepted: Kafka has the identification",
    400: "Invalid request",
    401: "Missing or unknown credentials",
    403: "The key belongs to another project, or the page's Origin is not one the project allows",
    404: "ENTRY_NOT_FOUND: no entry matches the embeddable and identifier",
    413: "Body (or its gzip inflation) too large",
    415: "Not JSON, or an unsupported Content-Encoding",
    429: "The project's rate limit is exceeded; see Retry-After",
    503: "Kafka is unavailable or the gateway is overloaded; see Retry-After",
}
_COMMON_ERRORS = (400, 413, 415, 429, 503)
_FORMAT_ERRORS = {"vemetric": (403,), "usermaven": (401, 403), "embeddables": (401, 403, 404)}
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "vemetric": [{}, {"vemetricToken": []}],  # the token may instead be in the body
    "usermaven": [{"usermavenToken": []}],
    "embeddables": [{"apiKey": []}],
}
_SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "vemetricToken": {"type": "apiKey", "in": "header", "name": "Token"},
    "usermavenToken": {"type": "apiKey", "in": "query", "name": "token"},
}
_ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "UsermavenOk": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"const": "ok"},
            "set_aside": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Problem"},
                "description": "Bulk bodies: the elements refused one by one and written to the "
                "dead-letter topic while the others were accepted (absent when none were).",
            },
        },
    },
    "UsermavenError": {
        "type": "object",
        "required": ["status", "message", "errors"],
        "properties": {
            "status": {"const": "error"},
            "message": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
        },
    },
    "EmbeddablesError": {
        "type": "object",
        "required": ["code", "message", "errors"],
        "properties": {
            "code": {"type": "string", "examples": ["ENTRY_NOT_FOUND"]},
            "message": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
        },
    },
    "Problem": {
        "type": "object",
        "required": ["field", "reason"],
        "properties": {
            "index": {"type": "integer", "description": "Bulk bodies: the element's index."},
            "field": {"type": "string"},
            "reason": {"type": "string"},
        },
    },
}
_HEADERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Retries with the same key on the same path within 24 h create no second "
        "event; keys starting with `life-` never expire.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    {
        "name": "Content-Encoding",
        "in": "header",
        "required": False,
        "schema": {"enum": ["gzip", "deflate", "identity"]},
    },
]


_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_NOT_A_WORD = re.compile(r"\W+")
_PREFLIGHT_HEADERS = [
    {"name": "Origin", "in": "header", "required": True, "schema": {"type": "string"}},
    {
        "name": "Access-Control-Request-Method",
        "in": "header",
        "required": True,
        "schema": {"const": "POST"},
    },
    {
        "name": "Access-Control-Request-Headers",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Any headers: they are echoed in Access-Control-Allow-Headers.",
    },
]
_CORS_HEADERS = {
    name: {"schema": {"type": "string"}, "description": description}
    for name, description in (
        ("Access-Control-Allow-Origin", "The request's Origin, echoed."),
        ("Access-Control-Allow-Credentials", "`true`: the trackers send with credentials."),
        ("Access-Control-Allow-Methods", "POST (and the other CORS-safe methods)."),
        ("Access-Control-Allow-Headers", "The requested headers, echoed."),
        ("Access-Control-Max-Age", "How long a browser may cache this answer, in seconds."),
    )
}


def openapi_document(endpoints: tuple[Endpoint, ...]) -> dict[str, Any]:
    models = {e.body for e in endpoints}
    refs, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    components = definitions.get("$defs", {}) | _ERROR_SCHEMAS
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        body = refs[(endpoint.body, "validation")]
        if endpoint.bulk:
            body = {"oneOf": [body, {"type": "array", "items": body, "minItems": 1}]}
        path = paths.setdefault(endpoint.path, {})
        path[endpoint.method.lower()] = _operation(endpoint, body)
        if endpoint.browser:
            path["options"] = _preflight(endpoint)
    workflows, workflow_components = workflow_paths()
    _merge(paths, workflows, "path")
    _merge(components, workflow_components, "component schema")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Headwater gateway",
            "version": "1",
            "description": "Event ingestion in the Embeddables, Usermaven and Vemetric formats, "
            "and the Embed Workflow API.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": _SECURITY_SCHEMES | SECURITY_SCHEMES,
        },
    }


def _merge(into: dict[str, Any], other: dict[str, Any], what: str) -> None:
    """Add the workflow API's entries; a name both parts use would silently drop one of them."""
    shared = sorted(into.keys() & other.keys())
    if shared:
        raise ValueError(f"the ingest and workflow APIs both define the {what}s {shared}")
    into |= other


def _operation(endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
    statuses = (endpoint.success_status, *_FORMAT_ERRORS[endpoint.format], *_COMMON_ERRORS)
    parameters = [*_HEADERS, *_path_parameters(endpoint)]
    return {
        "summary": endpoint.summary,
        "tags": [endpoint.format],
        "operationId": _operation_id(endpoint, endpoint.method),
        "security": _SECURITY[endpoint.format],
        "parameters": parameters,
        "requestBody": {"required": True, "content": {_JSON: {"schema": body}}},
        "responses": {str(status): _response(endpoint, status) for status in sorted(set(statuses))},
    }


def _path_parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAMETER.findall(endpoint.path)
    ]


def _operation_id(endpoint: Endpoint, method: str) -> str:
    """Unique per path and method: a body model may serve several paths."""
    path = _NOT_A_WORD.sub("_", endpoint.path).lstrip("_")  # a trailing slash stays distinct
    return f"{endpoint.format}_{method.lower()}_{path}"


def _preflight(endpoint: Endpoint) -> dict[str, Any]:
    """Browser endpoints answer CORS preflights from any origin (see gateway/browser.py)."""
    return {
        "summary": f"CORS preflight for {endpoint.path}, from any web page",
        "tags": [endpoint.format],
        "operationId": _operation_id(endpoint, "options"),
        "parameters": [*_PREFLIGHT_HEADERS, *_path_parameters(endpoint)],
        "responses": {
            "204": {"description": "The browser may send the request", "headers": _CORS_HEADERS}
        },
    }


def _response(endpoint: Endpoint, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _STATUS_TEXT[status]}
    if status < 300:
        if endpoint.format == "usermaven":
            response["content"] = {_JSON: {"schema": {"$ref": _REF.format(model="UsermavenOk")}}}
        elif endpoint.format != "vemetric":
            response["content"] = {_JSON: {"schema": {"type": "object"}}}
        return response
    if endpoint.format == "vemetric":
        response["content"] = _TEXT
    else:
        schema = "UsermavenError" if endpoint.format == "usermaven" else "EmbeddablesError"
        response["content"] = {_JSON: {"schema": {"$ref": _REF.format(model=schema)}}}
    return response


def render(endpoints: tuple[Endpoint, ...]) -> str:
    return json.dumps(openapi_document(endpoints), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from gateway.app import ENDPOINTS, OPENAPI_FILE

    OPENAPI_FILE.write_text(render(ENDPOINTS))
    print(f"wrote {OPENAPI_FILE}")
