"""Section 10: two-factor sign-in. The two steps (password, then the code) of a
user with two-factor on, through the in-process client as the browser posts
them; and what two-factor costs every page afterwards: the endpoint list for a
session verified by a device beside the same list for a session without
two-factor (same account, same role), with their SQL query counts.

The user is made for the run (``bench-two-factor``, an operator of the picked
account) and deleted at the end. Each sign-in needs a code the device has not
seen yet, so before each timed sign-in the device forgets its last code (one
UPDATE, untimed)."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from bench.measure import summarise
from bench.pages import PORTAL, PageError, Row, count_queries, get_ok
from bench.picks import Picks
from portal.models import Member, Role
from tests.two_factor import code_at, turn_on

USERNAME = "bench-two-factor"
PASSWORD = "bench-two-factor-pw"


def _sign_in(client: Client, device: TOTPDevice) -> None:
    response = client.post(reverse("login"), {"username": USERNAME, "password": PASSWORD})
    if response.status_code != 302 or response["Location"] != reverse("login_code"):
        raise PageError(f"password step answered {response.status_code}")
    response = client.post(reverse("login_code"), {"code": code_at(device)})
    if response.status_code != 302 or response["Location"] != reverse("inventory:endpoint_list"):
        raise PageError(f"code step answered {response.status_code}")


def measure_two_factor(*, p: Picks, portal: Client, runs: int) -> list[Row]:
    user = get_user_model().objects.create_user(USERNAME, password=PASSWORD)
    try:
        Member.objects.create(user=user, account=p.account, role=Role.OPERATOR)
        device, _ = turn_on(user)
        return [_sign_in_row(device, runs), *_page_rows(device, portal, runs)]
    finally:
        user.delete()


def _sign_in_row(device: TOTPDevice, runs: int) -> Row:
    row = Row(section="10 two-factor", name="sign-in: password + code", target="(none)")
    try:
        seconds = []
        for attempt in range(runs + 2):
            TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
            device.refresh_from_db()
            client = Client(raise_request_exception=False)
            started = time.perf_counter()
            _sign_in(client, device)
            if attempt >= 2:  # two warm-up sign-ins
                seconds.append(time.perf_counter() - started)
        row.portal = summarise(seconds)
        row.note = "both POSTs, in-process; the password hasher is the benchmark settings'"
    except PageError as exc:
        row.error = str(exc)
    return row


def _page_rows(device: TOTPDevice, portal: Client, runs: int) -> list[Row]:
    from bench.measure import time_runs

    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    device.refresh_from_db()
    verified = Client(raise_request_exception=False)
    rows = []
    try:
        _sign_in(verified, device)
    except PageError as exc:
        return [Row(section="10 two-factor", name="list page, verified", error=str(exc))]
    for name, client in (("list page, no two-factor", portal), ("list page, verified", verified)):
        row = Row(section="10 two-factor", name=name, target="(none)", url=PORTAL)
        try:
            row.portal_queries, _ = count_queries(client, PORTAL)
            row.portal = time_runs(lambda c=client: get_ok(c, PORTAL), runs=runs)
        except PageError as exc:
            row.error = str(exc)
        rows.append(row)
    return rows
