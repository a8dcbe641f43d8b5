"""Key values: the limits, the Key Values tab (read for all, edit for
operators), History of each change, the list's ``kv`` filter (keyset pages,
constant queries, the account's own pairs only) and the set-based bulk rule."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inventory.history import Actor
from inventory.identifiers import clean_key, clean_key_values, clean_value, parse_key_value
from inventory.key_values import (
    ALREADY_SET,
    FULL,
    TERMINATED,
    KeyValuesRefused,
    change_key_values,
    key_values_of,
    set_key_value,
)
from inventory.models import History, HistoryAction, KeyValue, State
from tests.factories import EndpointFactory

LIST = reverse("inventory:endpoint_list")

pytestmark = pytest.mark.django_db


def tab(endpoint) -> str:
    return reverse("inventory:endpoint_key_values", args=[endpoint.iccid])


def put(endpoint, **pairs) -> None:
    KeyValue.objects.bulk_create(
        KeyValue(account_id=endpoint.account_id, endpoint=endpoint, key=k, value=v)
        for k, v in pairs.items()
    )


def iccids(response) -> list[str]:
    return re.findall(
        r'<td class="mono"><a href="/inventory/endpoints/(\d+)/">', response.content.decode()
    )


# --- limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Enter a key."),
        ("Fleet", "“Fleet” is not a valid key: use lower-case letters, digits, _ . or -."),
        ("fleet id", "is not a valid key"),
        ("fleet:id", "is not a valid key"),
        ("k" * 65, "A key has at most 64 characters; this one has 65."),
        ("ключ", "is not a valid key"),
    ],
)
def test_bad_keys_are_explained(key, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        clean_key(key)


def test_good_keys_and_values_pass():
    assert clean_key("vehicle.vin_2-a") == "vehicle.vin_2-a"
    assert clean_key("k" * 64) == "k" * 64
    assert clean_value("ü" * 1024, key="k") == "ü" * 1024
    assert clean_value("", key="k") == ""


def test_values_are_at_most_1024_characters_and_hold_no_nul():
    with pytest.raises(
        ValidationError, match="The value of note has 1,025 characters; at most 1,024."
    ):
        clean_value("x" * 1025, key="note")
    with pytest.raises(ValidationError, match="contains a NUL"):
        clean_value("a\x00b", key="note")


def test_at_most_fifty_pairs():
    clean_key_values({f"k{n}": "v" for n in range(50)})
    with pytest.raises(ValidationError, match="at most 50 key values; this would be 51"):
        clean_key_values({f"k{n}": "v" for n in range(51)})


def test_kv_filter_text_is_key_colon_value():
    assert parse_key_value("fleet:berlin:north") == ("fleet", "berlin:north")
    assert parse_key_value("fleet:") == ("fleet", "")
    with pytest.raises(ValidationError, match="as key:value"):
        parse_key_value("fleet")


# --- the rule ------------------------------------------------------------------------


def test_change_replaces_or_merges_and_records_history(account, operator):
    endpoint = EndpointFactory(account=account)
    actor = Actor.for_user(operator)

    changes = change_key_values(
        endpoint=endpoint, actor=actor, pairs={"fleet": "berlin", "vin": "W0L1"}, replace=True
    )
    assert changes == {"fleet": [None, "berlin"], "vin": [None, "W0L1"]}
    changes = change_key_values(
        endpoint=endpoint, actor=actor, pairs={"fleet": "hamburg", "vin": None}, replace=False
    )
    assert changes == {"fleet": ["berlin", "hamburg"], "vin": ["W0L1", None]}
    assert key_values_of(endpoint) == {"fleet": "hamburg"}
    assert change_key_values(endpoint=endpoint, actor=actor, pairs={}, replace=False) == {}
    changes = change_key_values(endpoint=endpoint, actor=actor, pairs={"x": "1"}, replace=True)
    assert changes == {"fleet": ["hamburg", None], "x": [None, "1"]}

    rows = History.objects.filter(endpoint=endpoint).order_by("id")
    assert [row.action for row in rows] == [HistoryAction.KEY_VALUES] * 3
    assert rows[0].actor == operator
    assert rows[1].changes == {
        "key_values": {"fleet": ["berlin", "hamburg"], "vin": ["W0L1", None]}
    }


def test_a_merge_past_fifty_is_refused_and_saves_nothing(account, operator):
    endpoint = EndpointFactory(account=account)
    put(endpoint, **{f"k{n}": "v" for n in range(50)})
    with pytest.raises(KeyValuesRefused, match="at most 50 key values; this would be 51"):
        change_key_values(
            endpoint=endpoint, actor=Actor.for_user(operator), pairs={"new": "1"}, replace=False
        )
    assert KeyValue.objects.filter(endpoint=endpoint).count() == 50
    assert not History.objects.exists()


def test_a_terminated_endpoints_key_values_are_frozen(account, operator):
    endpoint = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at="2026-11-01T00:00Z"
    )
    with pytest.raises(KeyValuesRefused, match="terminated"):
        change_key_values(
            endpoint=endpoint, actor=Actor.for_user(operator), pairs={"a": "1"}, replace=True
        )
    assert not KeyValue.objects.exists()


def test_set_key_value_on_a_selection_skips_by_reason(account, other_account, operator):
    plain, same, full = (EndpointFactory(account=account) for _ in range(3))
    terminated = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at="2026-11-01T00:00Z"
    )
    theirs = EndpointFactory(account=other_account)
    put(same, fleet="berlin")
    put(full, **{f"k{n}": "v" for n in range(50)})
    put(plain, fleet="old")

    result = set_key_value(
        endpoint_ids=[plain.pk, same.pk, full.pk, terminated.pk, theirs.pk],
        account_id=account.pk,
        key="fleet",
        value="berlin",
        actor=Actor.for_user(operator),
    )

    assert result.changed == 1
    assert result.skipped == {ALREADY_SET: 1, FULL: 1, TERMINATED: 1}
    assert key_values_of(plain) == {"fleet": "berlin"}
    assert key_values_of(theirs) == {}
    entry = History.objects.get(endpoint=plain)
    assert entry.changes == {"key_values": {"fleet": ["old", "berlin"]}}
    assert entry.action == HistoryAction.KEY_VALUES and entry.actor == operator


# --- the tab -------------------------------------------------------------------------


def test_viewers_read_key_values_without_a_form(client, viewer, account):
    endpoint = EndpointFactory(account=account)
    put(endpoint, fleet="berlin", vin="W0L<1>")
    client.force_login(viewer)

    body = client.get(tab(endpoint)).content.decode()

    assert "berlin" in body and "W0L&lt;1&gt;" in body
    assert 'data-testid="key-values-form"' not in body
    assert client.post(tab(endpoint), {"key": ["x"], "value": ["1"]}).status_code == 403
    assert key_values_of(endpoint) == {"fleet": "berlin", "vin": "W0L<1>"}


def test_operators_edit_the_whole_set(client, operator, account):
    endpoint = EndpointFactory(account=account)
    put(endpoint, fleet="berlin", vin="W0L1")
    client.force_login(operator)
    assert 'data-testid="key-values-form"' in client.get(tab(endpoint)).content.decode()

    response = client.post(
        tab(endpoint),
        {"key": ["fleet", "vin", "driver", ""], "value": ["hamburg", "", "", ""]},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == tab(endpoint)
    assert "Key values of" in response.content.decode()
    # A row with a key and an empty value keeps the key with an empty value;
    # a row cleared of both is removed.
    assert key_values_of(endpoint) == {"fleet": "hamburg", "vin": "", "driver": ""}
    history = client.get(reverse("inventory:endpoint_history", args=[endpoint.iccid]))
    text = re.sub(r"\s+", " ", unescape(history.content.decode()))
    assert "Key values changed" in text and "Key value fleet" in text


def test_removing_a_row_removes_the_pair(client, operator, account):
    endpoint = EndpointFactory(account=account)
    put(endpoint, fleet="berlin", vin="W0L1")
    client.force_login(operator)
    client.post(tab(endpoint), {"key": ["fleet", ""], "value": ["berlin", ""]})
    assert key_values_of(endpoint) == {"fleet": "berlin"}
    assert History.objects.get(endpoint=endpoint).changes == {"key_values": {"vin": ["W0L1", None]}}


def test_bad_pairs_are_explained_and_nothing_is_saved(client, operator, account):
    endpoint = EndpointFactory(account=account)
    put(endpoint, fleet="berlin")
    client.force_login(operator)

    response = client.post(
        tab(endpoint),
        {"key": ["fleet", "Bad Key", "note", "fleet"], "value": ["x", "1", "y" * 1025, "z"]},
    )

    body = unescape(response.content.decode())
    assert response.status_code == 200
    assert "The key fleet is given twice." in body
    response = client.post(tab(endpoint), {"key": ["Bad Key", "note"], "value": ["1", "y" * 1025]})
    body = unescape(response.content.decode())
    assert "“Bad Key” is not a valid key" in body
    assert "The value of note has 1,025 characters; at most 1,024." in body
    assert key_values_of(endpoint) == {"fleet": "berlin"}
    assert not History.objects.exists()


def test_a_terminated_endpoint_refuses_an_edit(client, operator, account):
    endpoint = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at="2026-11-01T00:00Z"
    )
    client.force_login(operator)
    assert 'data-testid="key-values-form"' not in client.get(tab(endpoint)).content.decode()
    assert client.post(tab(endpoint), {"key": ["a"], "value": ["1"]}).status_code == 409
    assert not KeyValue.objects.exists()


def test_the_tab_runs_a_fixed_number_of_queries(
    client, operator, account, django_assert_max_num_queries
):
    endpoint = EndpointFactory(account=account)
    put(endpoint, **{f"k{n}": "v" for n in range(50)})
    client.force_login(operator)
    with django_assert_max_num_queries(8):
        assert client.get(tab(endpoint)).status_code == 200


# --- the list filter -----------------------------------------------------------------


def test_the_list_filters_by_key_value_in_the_account_only(
    client, operator, account, other_account
):
    berlin = [EndpointFactory(account=account) for _ in range(3)]
    hamburg = EndpointFactory(account=account)
    theirs = EndpointFactory(account=other_account)
    for endpoint in berlin:
        put(endpoint, fleet="berlin")
    put(hamburg, fleet="hamburg")
    put(theirs, fleet="berlin")
    client.force_login(operator)

    response = client.get(LIST, {"kv": "fleet:berlin"})

    assert iccids(response) == sorted(e.iccid for e in berlin)
    assert iccids(client.get(LIST, {"kv": "fleet:ber"})) == []
    assert iccids(client.get(LIST, {"kv": "fleet:hamburg"})) == [hamburg.iccid]


def test_a_malformed_kv_filter_is_a_form_error(client, operator, account):
    EndpointFactory(account=account)
    client.force_login(operator)
    body = unescape(client.get(LIST, {"kv": "Fleet=berlin"}).content.decode())
    assert "Filter by key value as key:value" in body
    assert iccids(client.get(LIST, {"kv": "Fleet=berlin"})) == []


def test_kv_pages_are_keyset_and_constant_in_queries(
    client, operator, account, django_assert_max_num_queries
):
    endpoints = [EndpointFactory(account=account) for _ in range(60)]
    for endpoint in endpoints[::2]:
        put(endpoint, fleet="berlin")
    client.force_login(operator)
    with django_assert_max_num_queries(6):
        first = client.get(LIST, {"kv": "fleet:berlin", "per_page": 25})
    match = re.search(r'rel="next" href="([^"]+)"', first.content.decode())
    assert match
    with django_assert_max_num_queries(6):
        second = client.get(unescape(match.group(1)))
    shown = iccids(first) + iccids(second)
    assert shown == sorted(e.iccid for e in endpoints[::2])
    assert "kv=fleet%3Aberlin" in unescape(match.group(1))


# --- bulk "set key value" ------------------------------------------------------------

BULK = reverse("inventory:endpoint_bulk_set_key_value")


def confirmation_of(response) -> str:
    match = re.search(r'name="confirmation" value="([^"]+)"', response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


def test_bulk_set_key_value_asks_previews_and_acts(client, operator, account):
    endpoints = [EndpointFactory(account=account) for _ in range(3)]
    put(endpoints[0], fleet="berlin")
    ids = [e.iccid for e in endpoints]
    client.force_login(operator)

    asked = client.post(BULK, {"ids": ids})
    assert 'name="key"' in asked.content.decode() and 'name="confirm"' not in asked.content.decode()
    bad = client.post(BULK, {"ids": ids, "key": "Fleet", "value": "x"})
    assert "is not a valid key" in unescape(bad.content.decode())

    preview = client.post(BULK, {"ids": ids, "key": "fleet", "value": "berlin"})
    text = unescape(preview.content.decode())
    assert "2 endpoints will be set fleet, 1 skipped: 1 already set to this value" in text
    assert not History.objects.exists()

    done = client.post(
        BULK,
        {
            "ids": ids,
            "key": "fleet",
            "value": "berlin",
            "confirm": "1",
            "confirmation": confirmation_of(preview),
        },
        follow=True,
    )
    assert "2 endpoints set fleet, 1 skipped: 1 already set to this value." in unescape(
        done.content.decode()
    )
    assert all(key_values_of(e) == {"fleet": "berlin"} for e in endpoints)
    rows = History.objects.filter(action=HistoryAction.KEY_VALUES)
    assert rows.count() == 2 and len({row.batch for row in rows}) == 1


def test_a_confirmation_binds_the_pair(client, operator, account):
    endpoint = EndpointFactory(account=account)
    client.force_login(operator)
    preview = client.post(BULK, {"ids": [endpoint.iccid], "key": "fleet", "value": "berlin"})

    response = client.post(
        BULK,
        {
            "ids": [endpoint.iccid],
            "key": "fleet",
            "value": "hamburg",
            "confirm": "1",
            "confirmation": confirmation_of(preview),
        },
    )

    assert response.status_code == 200
    assert 'data-testid="confirm-refused"' in response.content.decode()
    assert key_values_of(endpoint) == {}


def test_a_large_selection_runs_as_a_job_in_chunks(monkeypatch, account, operator):
    import jobs.services
    from jobs import runner
    from jobs.models import Action, JobState

    monkeypatch.setattr(jobs.services, "INLINE_LIMIT", 0)
    endpoints = [EndpointFactory(account=account) for _ in range(5)]
    terminated = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at="2026-11-01T00:00Z"
    )
    from inventory.models import Endpoint

    job = jobs.services.start_set_key_value(
        account=account,
        user=operator,
        endpoints=Endpoint.objects.filter(account=account),
        key="fleet",
        value="berlin",
    )
    assert job.action == Action.SET_KEY_VALUE and job.total == 6 and job.queue_job_id
    monkeypatch.undo()

    job = runner.run_chunk(job.pk, size=4)
    assert (job.position, job.changed) == (4, 4)
    job = runner.run(job.pk, size=4)

    assert job.state == JobState.SUCCEEDED
    assert (job.changed, job.skipped) == (5, {TERMINATED: 1})
    assert all(key_values_of(e) == {"fleet": "berlin"} for e in endpoints)
    assert key_values_of(terminated) == {}
    assert History.objects.filter(batch=job.batch).count() == 5
