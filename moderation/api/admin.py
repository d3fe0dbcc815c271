"""Admin endpoints for webhooks: each site's address and secret, and the deliveries' outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from moderation.api.deps import StoreDep
from moderation.api.moderator_auth import AdminDep
from moderation.store_webhooks import Delivery, WebhookStore
from moderation.webhooks import MAX_URL_LENGTH, DeliveryState, WebhookUrlError

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    responses={
        401: {"description": "No valid moderator token."},
        403: {"description": "The moderator is not an admin."},
    },
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such site or delivery."}}
# Addresses `webhook_url_problem` accepts, as far as a pattern says it (the service takes any
# port, the pattern names those of up to 4 digits).
WEBHOOK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:[0-9]{1,4})?([/?#][!-~]*)?$"


class DeliveryOut(BaseModel):
    """One webhook call and the outcome of its latest attempt (the body as it was signed)."""

    id: int
    site: str
    comment_id: str
    event_id: int
    url: str
    body: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        """The public form of a stored delivery."""
        return cls.model_validate(delivery)


class DeliveriesOut(BaseModel):
    """The latest deliveries, newest first."""

    deliveries: list[DeliveryOut]


class WebhookIn(BaseModel):
    """A site's webhook address; `rotate_secret` replaces the signing secret."""

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="An http or https address with a host, without a user name or password.",
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN},
    )
    rotate_secret: bool = False


class WebhookOut(BaseModel):
    """A site's webhook; `secret` only in the answer that made it (shown this once)."""

    site: str
    url: str
    secret: str | None = Field(
        None, description="The new signing secret, present only when it was just made."
    )


@router.get("/webhooks/deliveries", response_model=DeliveriesOut, responses=_NOT_FOUND)
def list_deliveries(
    admin: AdminDep,
    store: StoreDep,
    site: Annotated[str | None, Query(max_length=200, description="Only this site's.")] = None,
    state: Annotated[DeliveryState | None, Query(description="Only in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveriesOut:
    """The latest webhook deliveries, newest first: outcome, attempts, next attempt."""
    rows = WebhookStore(store).deliveries(site=site, state=state, limit=limit)
    return DeliveriesOut(deliveries=[DeliveryOut.of(d) for d in rows])


@router.post(
    "/webhooks/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses={**_NOT_FOUND, 409: {"description": "Not failed, or the site has no webhook now."}},
)
def retry_delivery(
    admin: AdminDep,
    store: StoreDep,
    # Ids are 32-bit integers in PostgreSQL (64-bit in SQLite): a larger one is a 422, not a
    # database error.
    delivery_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> DeliveryOut:
    """Send a failed delivery again, now, to the site's current webhook address."""
    return DeliveryOut.of(WebhookStore(store).retry(delivery_id))


@router.get("/sites/{name}/webhook", response_model=WebhookOut, responses=_NOT_FOUND)
def get_webhook(admin: AdminDep, store: StoreDep, name: str) -> WebhookOut:
    """The site's webhook address (empty when it has none); never the secret."""
    hook = WebhookStore(store).webhook_of(name)
    return WebhookOut(site=name, url=hook.url)


@router.put(
    "/sites/{name}/webhook",
    response_model=WebhookOut,
    response_model_exclude_none=True,
    responses={
        **_NOT_FOUND,
        400: {"description": "The body is not JSON."},
        422: {"description": "The address cannot be called."},
    },
)
def set_webhook(admin: AdminDep, store: StoreDep, name: str, body: WebhookIn) -> WebhookOut:
    """Call `url` on every status change of the site's comments; the secret when just made."""
    hooks = WebhookStore(store)
    try:
        secret = hooks.set_webhook(name, body.url, rotate_secret=body.rotate_secret)
    except WebhookUrlError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return WebhookOut(site=name, url=hooks.webhook_of(name).url, secret=secret)


@router.delete(
    "/sites/{name}/webhook", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND
)
def delete_webhook(admin: AdminDep, store: StoreDep, name: str) -> Response:
    """Stop calling the site: address and secret removed, deliveries still owed marked failed."""
    WebhookStore(store).clear_webhook(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
