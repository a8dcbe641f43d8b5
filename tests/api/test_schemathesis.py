"""Schemathesis against the live API (a real HTTP server on this test's
database): every operation of the OpenAPI document, with examples generated
from it (valid and invalid), its coverage phase and stateful sequences along
the document's links, a bounded number of examples each. No answer may be a
5xx, and every answer must conform to the document: status code, content
type, headers and schema.

``positive_data_acceptance`` is left out on purpose: a request the schema
allows may still break a rule only the database knows (an unknown group
name, an ICCID of no endpoint), and we answer that with a 4xx problem, as the
document says.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from api.main import api as ninja_api
from inventory.models import (
    AllocationKind,
    EventStatus,
    EventType,
    IPAllocation,
    NetworkEvent,
    State,
)
from portal.models import Role
from tests.api.conftest import make_token
from tests.factories import EndpointFactory, GroupFactory

EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12")


@pytest.fixture
def fleet(account, other_account):
    group = GroupFactory(account=account, name="fleet-eu", vslice__subnet="100.64.0.0/16")
    GroupFactory(account=account, name="fleet-us", vslice=group.vslice)
    GroupFactory(account=other_account, name="theirs", vslice__subnet="100.65.0.0/16")
    states = [State.ACTIVE, State.IDLE, State.SUSPENDED, State.PENDING]
    for i in range(40):
        state = states[i % 4]
        endpoint = EndpointFactory(
            account=account,
            state=state,
            primary_group=None if state == State.PENDING else group,
            name=f"truck {i}",
            tags=["eu"],
        )
        if state != State.PENDING:
            IPAllocation.objects.create(
                account=account,
                endpoint=endpoint,
                group=group,
                vslice=group.vslice,
                address=f"100.64.2.{i + 1}",
                kind=AllocationKind.AUTO,
            )
            NetworkEvent.objects.create(
                event_id=f"e{i}",
                account=account,
                endpoint=endpoint,
                group=group,
                type=EventType.ATTACH,
                imsi=endpoint.imsis.first().imsi,
                at=timezone.now(),
                status=EventStatus.ACCEPTED,
            )
    EndpointFactory.create_batch(5, account=other_account)


@pytest.mark.slow
def test_the_live_api_conforms_to_its_document(live_server, settings, account, fleet, tmp_path):
    settings.API_RATE_LIMIT = 10**9
    _, token = make_token(account, Role.ADMIN)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live_server.url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        EXAMPLES,
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    if seed := os.environ.get("SCHEMATHESIS_SEED"):
        command += ["--seed", seed]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    operations = sum(len(path) for path in ninja_api.get_openapi_schema()["paths"].values())
    assert f"Selected: {operations}/{operations}" in output, output[-3000:]
