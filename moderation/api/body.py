"""A route's JSON body read and validated by the route itself, refused as FastAPI refuses it.

The check route is the busiest of the service. Declared as parameters, its body and its site
cost FastAPI a pass through its dependency machinery per request (about 11% of the instructions
the serving process spends on a check); read here, the route pays only for the parsing and the
validation. The refusals are FastAPI's own: the same statuses, error types,
locations and messages, which `errors.install` then words for the client.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_UNREADABLE = "There was an error parsing the body"


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """The `requestBody` an operation documents for a required JSON body of `model`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def is_json(content_type: str) -> bool:
    """Whether a Content-Type names JSON (`application/json`, `application/*+json`), read as
    FastAPI reads it (through `email.message`): parameters dropped, case folded, anything
    without exactly one slash taken for text/plain."""
    media = content_type.partition(";")[0].strip().lower()
    if media.count("/") != 1:
        return False
    main, sub = media.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def json_body(request: Request, model: type[M]) -> M:
    """The request's body as `model`.

    - a body that cannot be read or decoded (not UTF-8, UTF-16 or UTF-32; numbers too long):
      400;
    - JSON that does not parse: 422 `json_invalid`, located at the character;
    - no body: 422 `missing`; a body without a JSON Content-Type is validated as bytes and
      refused by the model (422);
    - a body the model refuses: 422 with its errors, each located under `body`.
    """
    try:
        raw = await request.body()
        data: Any = raw
        content_type = request.headers.get("content-type")
        if raw and content_type and is_json(content_type):
            data = await request.json()
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**error, "input": {}, "ctx": {"error": exc.msg}}]) from exc
    except Exception as exc:  # a client gone mid-body, a body nested too deep to decode
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _UNREADABLE) from exc
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        # As FastAPI validates a body parameter: attributes allowed, so that a body that is not
        # an object gets its error type ("model_attributes_type").
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
