"""POST /v1/authors/forget: erase an author from the site whose key is sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field

from moderation.api.deps import SiteDep, StoreDep
from moderation.api.schemas import Text500
from moderation.erasure import address_key

router = APIRouter(prefix="/v1/authors", tags=["authors"])


def _address(value: str) -> str:
    address_key(value)  # raises AddressError, a ValueError: pydantic names the field
    return value


class ForgetIn(BaseModel):
    """The author to forget. The address travels in the body, so no access log records it."""

    email: Annotated[Text500, AfterValidator(_address)] = Field(
        description="The author's email address, in any case.",
        json_schema_extra={"format": "email"},
    )
    dry_run: bool = Field(False, description="Only count what would be removed.")


class ForgetOut(BaseModel):
    """What was removed from the site (or would be, with dry_run)."""

    site: str
    dry_run: bool
    comments_deleted: int = Field(description="The author's own comments, deleted whole.")
    comments_redacted: int = Field(
        description="Other comments that quoted the address, now with it hidden in place."
    )
    samples_deleted: int = Field(description="Labelled training samples the author sent.")
    samples_redacted: int = Field(description="Other labelled samples that quoted the address.")


@router.post(
    "/forget",
    response_model=ForgetOut,
    responses={
        400: {"description": "The body is not JSON."},
        401: {"description": "Missing or invalid API key."},
        422: {"description": "Not an email address."},
    },
)
def forget(body: ForgetIn, site: SiteDep, store: StoreDep) -> ForgetOut:
    """Erase every comment this address sent to the site, and the address from every other.

    The author's comments (with their IP address, user agent and everything else) and labelled
    samples are deleted; any other comment or sample of the site that quotes the address, in
    any disguise the redaction recognises, keeps its text with the address replaced by
    `[email hidden]`. Only this site is touched: `moderation forget EMAIL` covers every site.
    """
    [report] = store.forget_author(body.email, site_id=site.id, dry_run=body.dry_run)
    return ForgetOut(
        site=report.site,
        dry_run=body.dry_run,
        comments_deleted=report.comments_deleted,
        comments_redacted=report.comments_redacted,
        samples_deleted=report.samples_deleted,
        samples_redacted=report.samples_redacted,
    )
