"""The Embed Workflow API's shared request path: authenticate, read the parameters, run the
operation once (`Idempotency-Key`), answer JSON.

Every route is an `Operation`: a function of the caller, the validated parameters and the path,
returning a status and a JSON document. What differs between routes is data (which model, whether
a publishable key may call it); the path every request takes is here, once:

1. `Authorization` resolves to the project, environment and kind of key (gateway/workflows/auth.py);
   a publishable key is refused (403) where the route needs the secret key.
2. Parameters are the query string and the body, JSON or form-encoded with bracket nesting
   (gateway/workflows/forms.py), the body's winning where both name one; validated by the route's
   model, strictly for JSON (models.py).
3. A POST with `Idempotency-Key` runs once per key and path (idempotency.py); every other
   request runs as it comes.
4. Errors are answered in one shape, `{"code", "message", "errors": [{"field", "reason"}]}`,
   with the status of the error and `X-Headwater-Error`.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gateway.body import parse_json, read_body
from gateway.errors import GatewayError, InvalidPayload
from gateway.ingest import idempotency_key
from gateway.projects import ProjectSource
from gateway.validation import problems_of
from gateway.workflows.auth import Caller, caller_of, require_secret
from gateway.workflows.forms import FormError, parse_form, parse_query
from gateway.workflows.idempotency import Answer, Idempotency, fingerprint
from gateway.workflows.template import coerce_form_template
from gateway.workflows.writes import new_id

__all__ = ["Call", "Operation", "RequestPath"]

log = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Call:
    """One request, as an operation sees it."""

    caller: Caller
    params: Any  # the route's model
    given: frozenset[str]  # the parameters the request named (an explicit null among them)
    path: dict[str, str]
    request_id: str  # the idempotency claim's id, or a new one


Operation = Callable[[Call], Awaitable[tuple[int, Any]]]


class RequestPath:
    def __init__(self, projects: ProjectSource, idempotency: Idempotency, max_body: int) -> None:
        self._projects = projects
        self._idempotency = idempotency
        self._max_body = max_body

    def handler(
        self, operation: Operation, model: type[BaseModel], publishable: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """The route's handler; `publishable`: a publishable key may call it."""

        async def handle(request: Request) -> Response:
            try:
                caller = caller_of(request.headers.get("authorization"), self._projects.registry)
                if not publishable:
                    require_secret(caller, f"{request.method} {request.url.path}")
                body = await self._body(request)
                params, given = _validated(model, request, body)
                call = Call(caller, params, given, dict(request.path_params), "")
                answer = await self._run(request, body, call, operation)
            except GatewayError as error:
                answer = _error_answer(error)
                log.info("refused", extra={"path": request.url.path, "why": str(error)})
            headers = answer.headers | ({"Idempotent-Replayed": "true"} if answer.replayed else {})
            return Response(answer.body, answer.status, headers, media_type="application/json")

        return handle

    async def _run(self, request: Request, body: bytes, call: Call, operation: Operation) -> Answer:
        async def run(request_id: str) -> Answer:
            try:
                status, document = await operation(replace(call, request_id=request_id))
            except GatewayError as error:
                if error.status >= 500:
                    raise
                return _error_answer(error)
            return Answer(status, orjson.dumps(document))

        key = idempotency_key(request)
        if request.method != "POST" or key is None:
            return await run(new_id())
        print_ = fingerprint(request.url.query.encode(), body)
        return await self._idempotency.once(call.caller, request.url.path, key, print_, run)

    async def _body(self, request: Request) -> bytes:
        """Any method's body, GET's too: `curl -X GET -d "expand[]=event_trigger"` sends its
        parameters there, and dropping them silently would answer another question."""
        return await read_body(request, self._max_body, also=(_FORM,))


def _validated(model: type[BaseModel], request: Request, body: bytes) -> tuple[Any, frozenset[str]]:
    """The route's parameters from the query and the body; 400 naming each wrong one."""
    form = request.headers.get("content-type", "").split(";")[0].strip().lower() == _FORM
    try:
        params = parse_query(request.query_params.multi_items())
        if form:
            params |= parse_form(body)
            if "template" in params:
                params["template"] = coerce_form_template(params["template"])
        elif body.strip():
            document = parse_json(body)
            if not isinstance(document, dict):
                raise InvalidPayload.at("body", "must be a JSON object")
            params |= document
    except FormError as error:
        raise InvalidPayload.at(error.field, error.reason) from error
    try:
        validated = model.model_validate(params, strict=not form and bool(body.strip()))
    except ValidationError as error:
        raise InvalidPayload(problems_of(error)) from error
    return validated, frozenset(params)


def _error_answer(error: GatewayError) -> Answer:
    return Answer(error.status, orjson.dumps(error.document()), headers=error.headers())
