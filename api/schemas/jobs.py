"""Jobs and actions in the customer API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import model_validator

from api.schemas.common import Body
from api.schemas.endpoints import ICCID_PATTERN, StateName
from inventory.search import MAX_LENGTH as MAX_SEARCH_LENGTH
from jobs.models import Action, JobState

#: A bulk action by ICCIDs takes at most this many (a larger one goes by filter).
MAX_BULK_ICCIDS = 100_000


class JobOut(Schema):
    id: int
    action: Literal[tuple(Action.values)]  # type: ignore[valid-type]
    state: Literal[tuple(JobState.values)]  # type: ignore[valid-type]
    created_by: str
    group: str | None
    reason: str
    total: int
    done: int = Field(description="Endpoints worked through so far (changed or skipped).")
    changed: int
    skipped: dict[str, int]
    summary: str
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(Schema):
    results: list[JobOut]
    next: str | None


class ActionIn(Body):
    reason: str = Field("", max_length=500)


class AssignIn(ActionIn):
    group: str = Field(min_length=1, max_length=100, description="The group's name.")


class EndpointFilter(Body):
    """The endpoint list's filters: what "select all matching" acts on."""

    state: list[StateName] = Field(default_factory=list, max_length=len(StateName.__args__))
    group: str | None = Field(None, max_length=100)
    tag: str | None = Field(None, max_length=40)
    q: str | None = Field(None, max_length=MAX_SEARCH_LENGTH)


class BulkIn(Body):
    """Either ``iccids`` or ``filter``."""

    iccids: list[Annotated[str, Field(pattern=ICCID_PATTERN)]] | None = Field(
        None, min_length=1, max_length=MAX_BULK_ICCIDS
    )
    filter: EndpointFilter | None = None
    group: str | None = Field(None, max_length=100, description="For assign: the group's name.")
    reason: str = Field("", max_length=500)
    confirm_count: int | None = Field(
        None,
        ge=0,
        le=10**9,
        description="Terminating by filter: the number of endpoints the filter matches.",
    )

    @model_validator(mode="after")
    def _one_selection(self):
        if (self.iccids is None) == (self.filter is None):
            raise ValueError("Send either “iccids” or “filter”.")
        return self


class ActionResult(Schema):
    changed: int
    skipped: dict[str, int]
    summary: str
    job: JobOut
