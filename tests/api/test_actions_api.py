"""Single and bulk actions through the API: the lifecycle's rules, jobs with
their Location, unknown ICCIDs and the terminate-by-filter count refused with
nothing changed, large selections queued for the worker."""

from __future__ import annotations

import pytest

import jobs.services
from inventory.models import History, State
from jobs.models import Job, JobState
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory, GroupFactory


@pytest.fixture
def active(account, group):
    return [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, tags=["t"])
        for _ in range(12)
    ]


def test_suspend_one_then_again_is_409(api, active):
    endpoint = active[0]
    ok = api.post(f"/api/v1/endpoints/{endpoint.iccid}/suspend", {"reason": "stolen"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["summary"] == "1 suspended"
    endpoint.refresh_from_db()
    assert endpoint.state == State.SUSPENDED
    row = History.objects.get(endpoint=endpoint, action="suspend")
    assert (row.actor_kind, row.actor_label, row.reason) == ("api", "api:admin-token", "stolen")
    again = api.post(f"/api/v1/endpoints/{endpoint.iccid}/suspend", {})
    assert again.status_code == 409
    assert "already suspended" in again.json()["detail"]
    assert History.objects.filter(endpoint=endpoint, action="suspend").count() == 1


def test_assign_needs_a_group_of_the_account(api, account, active):
    other = GroupFactory(account=account, name="second", vslice=active[0].primary_group.vslice)
    path = f"/api/v1/endpoints/{active[0].iccid}/assign"
    assert api.post(path, {"group": "nope"}).status_code == 422
    assert api.post(path, {}).status_code == 422
    assert api.post(path, {"group": other.name}).status_code == 200
    active[0].refresh_from_db()
    assert active[0].primary_group == other


def test_bulk_by_iccids_is_a_job_with_its_location(api, active):
    response = api.post(
        "/api/v1/bulk/suspend", {"iccids": [e.iccid for e in active[:5]], "reason": "r"}
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert response["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["state"], job["total"], job["changed"]) == ("succeeded", 5, 5)
    assert api.get(response["Location"]).json() == job
    assert Job.objects.get(pk=job["id"]).created_by_kind == "api"


def test_unknown_iccids_refuse_the_whole_bulk(api, active):
    before = sorted(active[0].__class__.objects.values_list("state", flat=True))
    response = api.post(
        "/api/v1/bulk/suspend", {"iccids": [active[0].iccid, "8944000000000009999"]}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body.iccids.1", "message": "No endpoint with this ICCID in this account."}
    ]
    assert sorted(active[0].__class__.objects.values_list("state", flat=True)) == before
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"iccids": []}, {"iccids": ["1"]}, {"iccids": ["8944000000000000001"], "filter": {}}],
)
def test_a_selection_is_iccids_or_a_filter(api, active, body):
    assert api.post("/api/v1/bulk/suspend", body).status_code == 422
    assert not Job.objects.exists()


def test_terminate_by_filter_needs_the_matched_count(api, active):
    body = {"filter": {"tag": "t", "state": ["active"]}}
    missing = api.post("/api/v1/bulk/terminate", body)
    assert missing.status_code == 422
    assert "matches 12" in missing.json()["detail"]
    wrong = api.post("/api/v1/bulk/terminate", {**body, "confirm_count": 11})
    assert wrong.status_code == 409
    assert not Job.objects.exists()
    ok = api.post("/api/v1/bulk/terminate", {**body, "confirm_count": 12})
    assert ok.status_code == 202
    assert ok.json()["changed"] == 12


def test_operators_cannot_terminate(api_as, active):
    operator = api_as(Role.OPERATOR)
    assert operator.post(f"/api/v1/endpoints/{active[0].iccid}/terminate", {}).status_code == 403
    response = operator.post("/api/v1/bulk/terminate", {"iccids": [active[0].iccid]})
    assert response.status_code == 403
    active[0].refresh_from_db()
    assert active[0].state == State.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_a_large_selection_is_queued_and_cancellable(account, group):
    EndpointFactory.create_batch(6, account=account, state=State.ACTIVE, primary_group=group)
    client = ApiClient(make_token(account, Role.OPERATOR)[1])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs.services, "INLINE_LIMIT", 5)
        response = client.post("/api/v1/bulk/suspend", {"filter": {"state": ["active"]}})
    assert response.status_code == 202
    job = response.json()
    assert (job["state"], job["total"], job["done"]) == ("queued", 6, 0)
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 409
    assert Job.objects.get(pk=job["id"]).state == JobState.CANCELLED


def test_jobs_list_pages(api, active):
    for endpoint in active[:5]:
        api.post(f"/api/v1/endpoints/{endpoint.iccid}/suspend", {})
    first = api.get("/api/v1/jobs", {"limit": 3}).json()
    rest = api.get("/api/v1/jobs", {"limit": 3, "cursor": first["next"]}).json()
    ids = [job["id"] for job in first["results"] + rest["results"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    assert api.get("/api/v1/jobs", {"state": "succeeded"}).json()["results"]
    assert api.get("/api/v1/jobs", {"state": "nope"}).status_code == 422
