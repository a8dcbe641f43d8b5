"""Stock and self-service activation: the stock import (all or nothing, by
line), ICCIDs kept apart from endpoints by the database, one identical refusal
for an unknown ICCID, a wrong code and a claimed SIM, the brute-force limit,
the race of two accounts, and the page."""

from __future__ import annotations

import re
import statistics
import threading
import time
from datetime import timedelta
from io import BytesIO, StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.urls import reverse
from django.utils import timezone

from inventory import activation_codes
from inventory.activation import (
    MAX_FAILURES,
    REFUSED,
    ActivationRefused,
    activate,
    blocked_until,
    who_for_user,
)
from inventory.history import Actor
from inventory.models import (
    IMSI,
    ActivationBlock,
    ActivationFailure,
    Endpoint,
    History,
    HistoryAction,
    State,
    StockSim,
)
from portal.models import Role
from tests.factories import EndpointFactory, MemberFactory, iccid_for, imsi_for

ACTIVATE = reverse("inventory:activate")
CODE = "K7QF-2MZA-9XTB"


def stock(n: int, *, code: str = CODE, imsis: int = 1) -> StockSim:
    return StockSim.objects.create(
        iccid=iccid_for(900_000 + n),
        imsis=[imsi_for(900_000 + n * 10 + i) for i in range(imsis)],
        code_hash=activation_codes.make_hash(activation_codes.clean_code(code)),
    )


def import_stock_file(tmp_path, text: str) -> tuple[str, str]:
    path = tmp_path / "stock.csv"
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    try:
        call_command("import_sims", str(path), stock=True, stdout=out, stderr=err)
    except CommandError as exc:
        return "", err.getvalue() + str(exc)
    return out.getvalue(), err.getvalue()


# --- stock import --------------------------------------------------------------------


@pytest.mark.django_db
def test_stock_import_stores_sims_with_hashed_codes(tmp_path):
    text = (
        "iccid,imsis,activation_code\n"
        f"{iccid_for(1)},{imsi_for(1)};{imsi_for(2)},abcd-1234\n"
        f"{iccid_for(2)},{imsi_for(3)},ZZZZ9999\n"
    )
    out, err = import_stock_file(tmp_path, text)

    assert "2 SIMs added to stock" in out, err
    sim = StockSim.objects.get(iccid=iccid_for(1))
    assert sim.imsis == [imsi_for(1), imsi_for(2)]
    assert "ABCD1234" not in sim.code_hash and "abcd" not in sim.code_hash
    assert activation_codes.verify("ABCD1234", sim.code_hash)
    assert not activation_codes.verify("ABCD1235", sim.code_hash)
    assert sim.claimed_at is None
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_stock_import_reports_every_bad_line_and_writes_nothing(tmp_path, account):
    EndpointFactory(account=account, iccid=iccid_for(5), imsis=0)
    IMSI.objects.create(
        account=account, endpoint=Endpoint.objects.get(iccid=iccid_for(5)), imsi=imsi_for(50)
    )
    stock(7)
    text = (
        "iccid,imsis,activation_code\n"
        f"{iccid_for(1)},{imsi_for(1)},short\n"  # 2: code too short
        f"{iccid_for(2)},{imsi_for(2)},\n"  # 3: no code
        f"{iccid_for(3)},{imsi_for(3)},GOODCODE1\n"  # 4: fine
        f"{iccid_for(3)},{imsi_for(4)},GOODCODE2\n"  # 5: ICCID twice in the file
        f"{iccid_for(5)},{imsi_for(5)},GOODCODE3\n"  # 6: ICCID is an endpoint
        f"{iccid_for(6)},{imsi_for(50)},GOODCODE4\n"  # 7: IMSI is an endpoint's
        f"{iccid_for(900_007)},{imsi_for(8)},GOODCODE5\n"  # 8: already in stock
        f"{iccid_for(9)},{imsi_for(9_000_070)},GOOD*CODE\n"  # 9: bad character
    )
    _, err = import_stock_file(tmp_path, text)

    assert "line 2: activation code: An activation code has 8 to 64 characters" in err
    assert "line 3: activation code: Enter the activation code." in err
    assert "csv: line 4:" not in err
    assert f"line 5: ICCID {iccid_for(3)} is already on line 4" in err
    assert f"line 6: ICCID {iccid_for(5)} already exists" in err
    assert f"line 7: IMSI {imsi_for(50)} already exists" in err
    assert f"line 8: ICCID {iccid_for(900_007)} is already in stock" in err
    assert "line 9: activation code: An activation code has letters and digits only." in err
    assert StockSim.objects.count() == 1


@pytest.mark.django_db
def test_stock_import_needs_its_columns(tmp_path):
    _, err = import_stock_file(tmp_path, f"iccid,imsis\n{iccid_for(1)},{imsi_for(1)}\n")
    assert "line 1: header: missing column(s) activation_code" in err
    assert not StockSim.objects.exists()


@pytest.mark.django_db
def test_an_endpoint_import_refuses_an_iccid_or_imsi_in_stock(tmp_path, account):
    sim = stock(1)
    path = tmp_path / "sims.csv"
    path.write_text(
        f"iccid,imsis\n{sim.iccid},{imsi_for(77)}\n{iccid_for(2)},{sim.imsis[0]}\n",
        encoding="utf-8",
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_sims", str(path), account="vantiq", stdout=StringIO(), stderr=err)
    assert f"line 2: ICCID {sim.iccid} is already in stock" in err.getvalue()
    assert f"line 3: IMSI {sim.imsis[0]} already exists" in err.getvalue()
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_database_keeps_stock_and_endpoint_iccids_apart(account):
    sim = stock(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Endpoint.objects.create(account=account, iccid=sim.iccid)
    endpoint = EndpointFactory(account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockSim.objects.create(iccid=endpoint.iccid, imsis=[imsi_for(5)], code_hash="x")


# --- activation ----------------------------------------------------------------------


@pytest.mark.django_db
def test_activation_makes_a_pending_endpoint_with_its_imsis_and_history(account, operator):
    sim = stock(1, imsis=2)

    endpoint = activate(
        account=account, actor=Actor.for_user(operator), iccid=sim.iccid, code="k7qf 2mza 9xtb"
    )

    assert endpoint.account == account and endpoint.state == State.PENDING
    assert sorted(endpoint.imsis.values_list("imsi", flat=True)) == sim.imsis
    entry = History.objects.get(endpoint=endpoint)
    assert entry.action == HistoryAction.ACTIVATED
    assert entry.actor == operator and entry.actor_label == "op"
    assert entry.to_state == State.PENDING
    sim.refresh_from_db()
    assert sim.claimed_by == account and sim.claimed_at is not None
    assert not ActivationFailure.objects.exists()


def _normalised(response) -> str:
    body = response.content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


@pytest.mark.django_db
def test_unknown_wrong_and_claimed_give_one_identical_answer(
    client, account, other_account, operator
):
    claimed = stock(1)
    activate(
        account=other_account,
        actor=Actor.for_user(MemberFactory(account=other_account).user),
        iccid=claimed.iccid,
        code=CODE,
    )
    wrong = stock(2)
    client.force_login(operator)
    responses = {}
    for case, iccid in (
        ("unknown", iccid_for(123_456)),
        ("wrong code", wrong.iccid),
        ("claimed", claimed.iccid),
    ):
        code = "WRONG-CODE-1" if case == "wrong code" else CODE
        response = client.post(ACTIVATE, {"iccid": iccid, "code": code})
        body = _normalised(response).replace(iccid, "ICCID").replace(code, "CODE")
        responses[case] = (response.status_code, body)

    assert len(set(responses.values())) == 1, responses.keys()
    status, body = responses["unknown"]
    assert status == 200
    assert REFUSED in body
    assert ActivationFailure.objects.filter(user=operator).count() == 3
    assert Endpoint.objects.filter(account=account).count() == 0


@pytest.mark.django_db
def test_the_three_refusals_cost_about_the_same_time(account, other_account, operator):
    claimed = stock(1)
    activate(
        account=other_account,
        actor=Actor.for_user(MemberFactory(account=other_account).user),
        iccid=claimed.iccid,
        code=CODE,
    )
    wrong = stock(2)
    actor = Actor.for_user(operator)
    cases = {
        "unknown": (iccid_for(123_456), CODE),
        "wrong code": (wrong.iccid, "WRONGCODE1"),
        "claimed": (claimed.iccid, CODE),
    }
    timings: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(7):
        for case, (iccid, code) in cases.items():
            ActivationFailure.objects.all().delete()
            started = time.perf_counter()
            with pytest.raises(ActivationRefused):
                activate(account=account, actor=actor, iccid=iccid, code=code)
            timings[case].append(time.perf_counter() - started)
    medians = {case: statistics.median(values) for case, values in timings.items()}
    # Each refusal pays one PBKDF2 run (3-4 ms); an unknown ICCID that skipped it
    # would be several times faster than the other two.
    assert max(medians.values()) < 2 * min(medians.values()), medians


@pytest.mark.django_db
def test_ten_failures_in_an_hour_block_the_user_for_an_hour(account, operator):
    sim = stock(1)
    actor = Actor.for_user(operator)
    for attempt in range(1, MAX_FAILURES + 1):
        with pytest.raises(ActivationRefused) as refused:
            activate(account=account, actor=actor, iccid=sim.iccid, code=f"WRONGCODE{attempt}")
        assert refused.value.counted
        assert (refused.value.blocked_until is not None) == (attempt == MAX_FAILURES)

    # Now even the right code is refused, without being tried or counted.
    with pytest.raises(ActivationRefused) as refused:
        activate(account=account, actor=actor, iccid=sim.iccid, code=CODE)
    assert "Too many failed activations" in refused.value.message
    assert not refused.value.counted
    assert ActivationFailure.objects.filter(user=operator).count() == MAX_FAILURES
    block = ActivationBlock.objects.get(who=f"user:{operator.pk}")
    assert timedelta(minutes=59) < block.until - timezone.now() <= timedelta(hours=1)
    assert not Endpoint.objects.exists()

    # Another user of the account is not blocked.
    colleague = MemberFactory(account=account, role=Role.OPERATOR).user
    assert blocked_until(who=who_for_user(colleague)) is None

    # An hour later (or once staff delete the block) the right code works.
    ActivationBlock.objects.update(until=timezone.now() - timedelta(seconds=1))
    ActivationFailure.objects.update(at=timezone.now() - timedelta(hours=1, seconds=1))
    assert activate(account=account, actor=actor, iccid=sim.iccid, code=CODE).state == "pending"


@pytest.mark.django_db
def test_failures_older_than_an_hour_do_not_count(account, operator):
    actor = Actor.for_user(operator)
    old = timezone.now() - timedelta(hours=1, minutes=1)
    ActivationFailure.objects.bulk_create(
        ActivationFailure(who=who_for_user(operator), account=account, at=old)
        for _ in range(MAX_FAILURES)
    )
    with pytest.raises(ActivationRefused) as refused:
        activate(account=account, actor=actor, iccid=iccid_for(5), code=CODE)
    assert refused.value.blocked_until is None


@pytest.mark.django_db
def test_malformed_input_is_explained_and_not_counted(client, account, operator):
    client.force_login(operator)
    response = client.post(ACTIVATE, {"iccid": "8944-12", "code": "abc"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "An ICCID has 19 or 20 digits; this one has 6." in body
    assert "An activation code has 8 to 64 characters; this one has 3." in body
    assert not ActivationFailure.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_accounts_racing_for_one_sim_exactly_one_wins(account, other_account):
    sim = stock(1, imsis=2)
    members = [
        MemberFactory(account=account, role=Role.OPERATOR).user,
        MemberFactory(account=other_account, role=Role.OPERATOR).user,
    ]
    rounds = 5
    sims = [sim] + [stock(n) for n in range(2, rounds + 1)]
    for racing in sims:
        barrier = threading.Barrier(2)
        results: list = []

        def claim(target, user, racing=racing, barrier=barrier, results=results):
            try:
                barrier.wait()
                results.append(
                    activate(
                        account=target, actor=Actor.for_user(user), iccid=racing.iccid, code=CODE
                    )
                )
            except ActivationRefused as refused:
                results.append(refused.message)
            finally:
                close_old_connections()
                connection.close()

        threads = [
            threading.Thread(target=claim, args=(target, user))
            for target, user in zip((account, other_account), members, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [r for r in results if isinstance(r, Endpoint)]
        assert len(winners) == 1, results
        assert [r for r in results if not isinstance(r, Endpoint)] == [REFUSED]
        assert Endpoint.objects.filter(iccid=racing.iccid).count() == 1
        assert History.objects.filter(endpoint__iccid=racing.iccid).count() == 1
        racing.refresh_from_db()
        assert racing.claimed_by_id == winners[0].account_id


# --- the page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_activates_and_lands_on_the_endpoint(client, account, operator):
    sim = stock(1)
    client.force_login(operator)
    assert b"Activate SIMs" in client.get(ACTIVATE).content

    response = client.post(ACTIVATE, {"iccid": sim.iccid, "code": CODE.lower()}, follow=True)

    endpoint = Endpoint.objects.get(iccid=sim.iccid, account=account)
    assert response.redirect_chain[-1][0] == reverse("inventory:endpoint_detail", args=[sim.iccid])
    assert "activated: it is a Pending endpoint of Vantiq Connect" in response.content.decode()
    assert endpoint.state == State.PENDING


@pytest.mark.django_db
def test_a_csv_of_pairs_activates_each_and_reports_by_line(client, account, operator):
    good, other = stock(1), stock(2)
    client.force_login(operator)
    text = (
        "iccid,activation_code\n"
        f"{good.iccid},{CODE}\n"
        f"{other.iccid},WRONGCODE9\n"
        f"{iccid_for(77)},{CODE}\n"
    )
    upload = BytesIO(text.encode())
    upload.name = "sims.csv"

    response = client.post(ACTIVATE, {"file": upload})

    body = response.content.decode()
    assert "1 of 3 SIMs activated" in body
    assert body.count(REFUSED) == 2
    assert Endpoint.objects.filter(account=account).count() == 1
    assert ActivationFailure.objects.filter(user=operator).count() == 2


@pytest.mark.django_db
def test_a_bad_csv_is_reported_by_line_and_nothing_is_tried(client, account, operator):
    sim = stock(1)
    client.force_login(operator)
    upload = BytesIO(
        f"iccid,activation_code\n{sim.iccid},{CODE}\n123,{CODE}\n{sim.iccid},x\n".encode()
    )
    upload.name = "sims.csv"

    body = client.post(ACTIVATE, {"file": upload}).content.decode()

    assert "line 3: ICCID: An ICCID has 19 or 20 digits" in body
    assert "line 4: activation code: An activation code has 8 to 64 characters" in body
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_viewers_may_not_activate(client, account, viewer):
    sim = stock(1)
    client.force_login(viewer)
    assert client.get(ACTIVATE).status_code == 403
    assert client.post(ACTIVATE, {"iccid": sim.iccid, "code": CODE}).status_code == 403
    assert not Endpoint.objects.exists()
    nav = client.get(reverse("inventory:endpoint_list")).content.decode()
    assert ACTIVATE not in nav


@pytest.mark.django_db
def test_the_admin_shows_stock_failures_and_blocks(client, account, operator):
    from tests.factories import UserFactory

    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    sim = stock(1)
    ActivationFailure.objects.create(
        who=who_for_user(operator), label="op", account=account, iccid=sim.iccid
    )
    ActivationBlock.objects.create(
        who=who_for_user(operator), label="op", until=timezone.now() + timedelta(hours=1)
    )
    client.force_login(staff)
    stock_page = client.get(reverse("admin:inventory_stocksim_changelist")).content.decode()
    assert sim.iccid in stock_page and sim.imsis[0] in stock_page
    assert sim.code_hash not in stock_page
    assert (
        "op" in client.get(reverse("admin:inventory_activationfailure_changelist")).content.decode()
    )
    assert (
        "op" in client.get(reverse("admin:inventory_activationblock_changelist")).content.decode()
    )
