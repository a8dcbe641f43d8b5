"""One account's slow receiver delays no other account: a receiver of account A
that trickles its answer (one header byte a second, for ever) is cut off at
the attempt's deadline, while account B's webhook deliveries and B's
2,000-endpoint bulk job complete meanwhile. Real worker processes, laid out as
production runs them (``jobs.workers.WORKERS``: a jobs worker and a delivery
worker), a real socket peer on 127.0.0.1.

The only time asserted is the deadline setting's: B's job and every delivery
of B's finish before A's first attempt ends, which happens at the deadline."""

from __future__ import annotations

import pytest

from events.models import AccountEvent
from inventory import lifecycle
from inventory.history import Actor
from jobs import services as job_services
from jobs.models import Action, Job, JobState
from jobs.workers import WORKERS
from portal.models import Role
from tests.factories import GroupFactory, MemberFactory
from tests.jobs.conftest import make_endpoints
from tests.jobs.test_worker import Worker, wait_for
from tests.webhooks.conftest import add_webhook
from tests.webhooks.raw_peer import RawPeer
from webhooks import services
from webhooks.models import Attempt

#: The deadline the workers run with: long enough for B's work on a busy
#: machine, short enough for a test.
DEADLINE = 30
THEIRS = 2_000


@pytest.mark.django_db(transaction=True)
def test_a_trickling_receiver_of_one_account_delays_no_other(
    account, group, other_account, receiver, tmp_path
):
    trickle = RawPeer(b"", interval=1.0).start()  # one header byte a second, never done
    slow = add_webhook(account, trickle)
    fast = add_webhook(other_account, receiver)
    ours = make_endpoints(account=account, group=group, count=20, state_sql="'active'")
    other_group = GroupFactory(account=other_account, vslice__subnet="100.65.0.0/16")
    theirs = make_endpoints(
        account=other_account, group=other_group, count=THEIRS, first=900_000, state_sql="'active'"
    )
    their_operator = MemberFactory(account=other_account, role=Role.OPERATOR).user
    log = tmp_path / "workers.log"
    env = {"WEBHOOK_ATTEMPT_SECONDS": str(DEADLINE)}
    workers = [Worker(log, args=arguments, env=env) for arguments in WORKERS.values()]
    try:
        # A: events on many lanes and a test event, all to the trickling receiver.
        lifecycle.suspend(endpoints=ours, actor=Actor.SYSTEM)
        services.send_test(webhook=slow)
        wait_for(
            lambda: trickle.requests >= 1, timeout=60, what="A's receiver got no request", log=log
        )
        # B, while A's attempts trickle: a bulk job, and its events for B's webhook.
        job = job_services.start(
            account=other_account, user=their_operator, action=Action.SUSPEND, endpoints=theirs
        )
        assert job.state == JobState.QUEUED
        wait_for(
            lambda: (
                Job.objects.get(pk=job.pk).finished
                and len(set(receiver.ids()))
                == AccountEvent.objects.filter(account=other_account).count()
            ),
            timeout=DEADLINE * 3,
            what="B's job and deliveries did not finish",
            log=log,
        )
        a_attempts_when_b_was_done = Attempt.objects.filter(webhook=slow).count()
        done = Job.objects.get(pk=job.pk)

        wait_for(
            lambda: Attempt.objects.filter(webhook=slow).exists(),
            timeout=DEADLINE * 3,
            what="A's attempt was never logged",
            log=log,
        )
    finally:
        for worker in workers:
            worker.stop()
        trickle.stop()

    assert (done.state, done.changed) == (JobState.SUCCEEDED, THEIRS), done.error
    assert receiver.bad_signatures == 0
    assert len(set(receiver.ids())) == THEIRS + 1  # every suspend, and job.finished
    assert Attempt.objects.filter(webhook=fast, ok=False).count() == 0
    # B was done while A's first attempt was still trickling.
    assert a_attempts_when_b_was_done == 0
    first = Attempt.objects.filter(webhook=slow).order_by("pk").first()
    assert (first.ok, first.error) == (False, "timeout")
    assert DEADLINE * 1000 <= first.latency_ms < (DEADLINE + 5) * 1000
    assert first.at > max(Attempt.objects.filter(webhook=fast).values_list("at", flat=True))
