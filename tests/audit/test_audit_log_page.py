"""Account → Audit log: admins only; the account's rows and its members' own
sign-ins, never another account's; filters by actor, event and time; keyset
pages; CSV export of the same selection; staff read every row in Django admin;
rows older than a year are purged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

import audit
from audit import retention
from audit.models import AuditAction, AuditEvent
from audit.views import PAGE_SIZE
from portal.models import Member
from tests.confirming import text
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

LOG = reverse("audit:audit_log")
EXPORT = reverse("audit:audit_export")


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    AuditEvent.objects.all().delete()  # the force_login's own sign-in row
    return client


def event(action, account, actor, ip=None, **fields) -> AuditEvent:
    row = audit.record(action=action, account=account, actor=actor, **fields)
    if ip:
        AuditEvent.objects.filter(pk=row.pk).update(ip=ip)
    return row


def test_anonymous_is_sent_to_sign_in(client):
    for url in (LOG, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role_user", ["operator", "viewer"])
def test_below_admin_is_refused(client, request, role_user):
    client.force_login(request.getfixturevalue(role_user))
    assert client.get(LOG).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_the_log_shows_ours_and_our_members_sign_ins_never_theirs(
    admin_client, account, other_account, operator
):
    stranger = MemberFactory(account=other_account, user__username="nw-stranger").user
    event(AuditAction.MEMBER_INVITED, account, operator, target="new@vantiq.example")
    event(AuditAction.SIGN_IN, None, operator, ip="198.51.100.1")
    event(AuditAction.MEMBER_INVITED, other_account, stranger, target="secret@nw.example")
    event(AuditAction.SIGN_IN, None, stranger)

    page = text(admin_client.get(LOG))

    assert "Member invited op — new@vantiq.example" in page
    assert "Signed in op 198.51.100.1" in page
    assert "nw-stranger" not in page and "secret@nw.example" not in page


def test_filters_by_actor_event_and_time(admin_client, account, operator, admin_member):
    old = event(AuditAction.BULK_JOB_STARTED, account, operator, target="job 1")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    event(AuditAction.BULK_JOB_STARTED, account, operator, target="job 2")
    event(AuditAction.MEMBER_INVITED, account, admin_member, target="x@vantiq.example")

    by_actor = text(admin_client.get(LOG, {"actor": "adm"}))
    by_event = text(admin_client.get(LOG, {"action": "bulk_job_started"}))
    today = timezone.now().date().isoformat()
    by_time = text(admin_client.get(LOG, {"since": today, "until": today}))

    assert "x@vantiq.example" in by_actor and "job 2" not in by_actor
    assert "job 1" in by_event and "job 2" in by_event and "x@vantiq" not in by_event
    assert "job 2" in by_time and "job 1" not in by_time


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "nope"}, "Select a valid choice"),
        ({"since": "2026-13-01"}, "Enter a valid date"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "“From” is after “To”"),
        ({"actor": "a\x00b"}, "Null characters are not allowed"),
        ({"before": "99999999999999999999"}, "This page link is broken"),
    ],
)
def test_bad_filters_are_explained(admin_client, params, message):
    response = admin_client.get(LOG, params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert admin_client.get(EXPORT, params).status_code == 302


def test_pages_go_back_in_time_by_id(
    admin_client, account, operator, django_assert_max_num_queries
):
    made = [
        event(AuditAction.BULK_JOB_STARTED, account, operator, target=f"job {n}")
        for n in range(PAGE_SIZE + 5)
    ]

    with django_assert_max_num_queries(8):
        first = admin_client.get(LOG)
    older = first.context["older_url"]
    second = admin_client.get(LOG + older)

    assert [e.pk for e in first.context["events"]] == [e.pk for e in made[::-1][:PAGE_SIZE]]
    assert [e.pk for e in second.context["events"]] == [e.pk for e in made[::-1][PAGE_SIZE:]]
    assert second.context["older_url"] == ""


def test_export_streams_the_selection_with_formulas_neutralised(
    admin_client, account, other_account, operator
):
    event(AuditAction.MEMBER_INVITED, account, operator, target="=HYPERLINK(1)", ip="192.0.2.1")
    event(AuditAction.SIGN_IN, account, operator)
    event(AuditAction.MEMBER_INVITED, other_account, operator, target="theirs@nw.example")

    response = admin_client.get(EXPORT, {"action": "member_invited"})

    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "id,time,event,actor_kind,actor,ip,target,details"
    assert len(lines) == 2
    assert ",Member invited,User,op,192.0.2.1,'=HYPERLINK(1)," in lines[1]


def test_the_purge_deletes_rows_older_than_a_year_only(account, operator):
    keep = event(AuditAction.SIGN_IN, None, operator)
    gone = event(AuditAction.SIGN_IN, None, operator)
    AuditEvent.objects.filter(pk=gone.pk).update(
        created_at=timezone.now() - retention.RETENTION - timedelta(minutes=1)
    )

    assert retention.purge_audit_log(batch=1) == 1
    call_command("purge_audit_log")

    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [keep.pk]


def test_staff_read_every_accounts_rows_in_admin_and_change_none(client, account, other_account):
    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    theirs = event(AuditAction.MEMBER_INVITED, other_account, None, target="nw@x.example")
    client.force_login(staff)

    changelist = client.get(reverse("admin:audit_auditevent_changelist"))
    detail = client.get(reverse("admin:audit_auditevent_change", args=[theirs.pk]))

    assert changelist.status_code == 200 and f"/{theirs.pk}/change/" in changelist.content.decode()
    assert detail.status_code == 200 and "nw@x.example" in detail.content.decode()
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[theirs.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=theirs.pk).exists()


def test_export_reads_chunk_after_chunk_without_a_gap(admin_client, account, operator, monkeypatch):
    from audit import export

    monkeypatch.setattr(export, "CHUNK_SIZE", 3)
    made = [event(AuditAction.SIGN_IN, None, operator) for _ in range(7)]
    made += [event(AuditAction.BULK_JOB_STARTED, account, operator) for _ in range(4)]

    lines = b"".join(admin_client.get(EXPORT).streaming_content).decode().splitlines()

    assert [int(line.split(",")[0]) for line in lines[1:]] == [e.pk for e in made[::-1]]


def test_pages_follow_time_then_id_when_ids_are_not_in_time_order(
    admin_client, account, operator, django_assert_max_num_queries
):
    """Rows written with an earlier time than rows before them (a member's
    sign-ins, the account's own rows, times shuffled and tied) are listed by
    time, then id, and the keyset pages cross both kinds without a gap."""
    now = timezone.now()
    Member.objects.filter(user=operator, account=account).update(joined_at=now - timedelta(days=2))
    made = []
    for n in range(PAGE_SIZE + 12):
        if n % 3:
            row = event(AuditAction.BULK_JOB_STARTED, account, operator, target=f"job {n}")
        else:
            row = event(AuditAction.SIGN_IN, None, operator)
        AuditEvent.objects.filter(pk=row.pk).update(created_at=now - timedelta(minutes=n * 7 % 40))
        made.append(row)
    everything = AuditEvent.objects.filter(pk__in=[e.pk for e in made])
    expected = list(everything.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert expected != sorted(expected, reverse=True)  # ids alone would order them otherwise

    shown, url = [], LOG
    while url:
        with django_assert_max_num_queries(8):
            page = admin_client.get(url)
        shown += [e.pk for e in page.context["events"]]
        url = LOG + page.context["older_url"] if page.context["older_url"] else ""

    assert shown == expected
