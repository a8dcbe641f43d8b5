"""Bad input never gives a 500, and changes nothing.

Property-based tests (hypothesis) throw random strings, huge numbers, unicode,
10,000-character values and repeated parameters at the endpoint list's query
string and at every form: sign-in, account switch, edit, the bulk actions and
the single-endpoint confirmations. Every URL pattern of the URLconf (the admin's
and the network API's included) has each path segment and each query parameter
it reads replaced by garbage, and both sign-ins get over-long credentials.

Each example runs inside a savepoint that is rolled back, so every example meets
the same small dataset; where a request did not succeed (anything but a
redirect), the database must be exactly as before, and another account's rows
never change at all.

The forms' field names, and the pages' query parameters, are read from the
rendered pages, so the fuzzing follows them as they change.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings as settings_module
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import ALL_VAR, ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Length
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.models import (
    IMSI,
    History,
    IPAllocation,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from network.tokens import create_token
from portal.models import Member, Role
from portal.tenancy import SESSION_KEY as ACCOUNT_SESSION_KEY
from tests.factories import EndpointFactory, GroupFactory, MemberFactory

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_FORMS = settings(FUZZ, max_examples=25)

# --- values ------------------------------------------------------------------------

SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "NaN",
        "Infinity",
        "null",
        "[]",
        "{}",
        "\x00",
        "a\x00b",
        "%00",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "\\",
        "//evil.example",
        "javascript:alert(1)",
        "١٢٣",  # Arabic-Indic digits: int() accepts them
        "８９４４",  # full-width digits
        "\u202e1234",
        "😀" * 5,
        "9" * 400,
        "8" * 10_000,
        "x" * 10_000,
        "é" * 10_000,
        "255.255.255.255",
        "100.64.0.0",
        "100.64.0.010",
        "::1",
    ]
)
HUGE = st.integers(min_value=-(10**40), max_value=10**40).map(str)
VALUE = st.one_of(st.text(max_size=60), HUGE, SPECIAL)


def values_for(candidates: list[str]) -> st.SearchStrategy[list[str]]:
    """One to three values: real ones from the page mixed with garbage."""
    single = st.one_of(st.sampled_from(candidates), VALUE) if candidates else VALUE
    return st.lists(single, min_size=1, max_size=3)


def params_for(fields: dict[str, list[str]]) -> st.SearchStrategy[dict[str, list[str]]]:
    """Any subset of the known fields plus a few unknown keys."""
    known = st.fixed_dictionaries({}, optional={k: values_for(v) for k, v in fields.items()})
    unknown = st.dictionaries(st.text(min_size=1, max_size=12), values_for([]), max_size=2)
    return st.tuples(known, unknown).map(lambda kv: {**kv[1], **kv[0]})


# --- reading forms from the rendered page -----------------------------------------


class _PostForms(HTMLParser):
    """Field names of the page's POST forms with the values the page offers."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self._in_post_form = False
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._in_post_form = (attrs.get("method") or "").lower() == "post"
        if not self._in_post_form:
            return
        name = attrs.get("name")
        if tag in ("input", "textarea", "select") and name and name != "csrfmiddlewaretoken":
            offered = self.fields.setdefault(name, [])
            if attrs.get("value"):
                offered.append(attrs["value"])
            self._select = name if tag == "select" else None
        if tag == "option" and self._select and attrs.get("value"):
            self.fields[self._select].append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_post_form = False
        if tag == "select":
            self._select = None


def post_fields(html: str) -> dict[str, list[str]]:
    parser = _PostForms()
    parser.feed(html)
    return {name: sorted(set(values)) for name, values in parser.fields.items()}


# --- the dataset and what must not change ------------------------------------------


@pytest.fixture
def dataset(account, other_account, group):
    """A small fixed inventory: every state, two groups, another account."""
    second = GroupFactory(account=account, name="vantiq-connect-us", vslice=group.vslice)
    now = timezone.now()
    EndpointFactory.reset_sequence(7000)
    endpoints = {
        "pending": EndpointFactory(account=account, name="pending one", tags=["fleet-a"]),
        "active": EndpointFactory(
            account=account,
            state=State.ACTIVE,
            primary_group=group,
            name="active one",
            reference="VIN123",
            tags=["fleet-a", "eu"],
            last_activity=now,
        ),
        "idle": EndpointFactory(
            account=account,
            state=State.IDLE,
            primary_group=second,
            last_activity=now - dt.timedelta(hours=1),
        ),
        "suspended": EndpointFactory(account=account, state=State.SUSPENDED, primary_group=group),
        "terminated": EndpointFactory(
            account=account, state=State.TERMINATED, terminated_at=now - dt.timedelta(days=2)
        ),
    }
    for n in range(6):
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, name=f"bulk {n}")
    # Enough for a second list page at the smallest page size (25), so real cursors exist.
    EndpointFactory.create_batch(16, account=account, imsis=0)
    IPAllocation.objects.create(
        account=account,
        endpoint=endpoints["active"],
        group=group,
        vslice=group.vslice,
        address="100.64.0.10",
        kind="static",
    )
    foreign_group = GroupFactory(account=other_account, name="northwind-core")
    foreign = [
        EndpointFactory(
            account=other_account, state=State.ACTIVE, primary_group=foreign_group, name="theirs"
        ),
        EndpointFactory(account=other_account, name="theirs pending"),
    ]
    admin = MemberFactory(account=account, role=Role.ADMIN, user__username="fuzz-admin").user
    MemberFactory(account=other_account, role=Role.VIEWER, user=admin)
    return {
        "account": account,
        "other_account": other_account,
        "groups": [group, second],
        "foreign_group": foreign_group,
        "endpoints": endpoints,
        "foreign": foreign,
        "admin": admin,
    }


def snapshot(account=None) -> tuple:
    """Every row a portal request could change, in a comparable form."""
    from inventory.models import Endpoint, Group

    def rows(model, *order):
        qs = model.objects.all()
        if account is not None:
            qs = qs.filter(account=account)
        return list(qs.order_by(*(order or ("pk",))).values_list())

    return (
        rows(Endpoint),
        rows(IMSI),
        rows(IPAllocation),
        rows(SecondaryMembership),
        rows(Group),
        rows(History),
        rows(SessionTeardown),
        list(Member.objects.order_by("pk").values_list()),
    )


def sessions() -> list[tuple[str, str]]:
    return list(Session.objects.order_by("pk").values_list("session_key", "session_data"))


def is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (
        location.startswith("/")
        and not location.startswith(("//", "/\\"))
        and not parts.scheme
        and not parts.netloc
    )


class Outcome:
    """The response of one example and whether the database changed."""

    def __init__(self, response, changed: bool, foreign_changed: bool):
        self.response = response
        self.changed = changed
        self.foreign_changed = foreign_changed
        content = b"".join(response) if response.streaming else response.content
        self.body = content.decode("utf-8", "replace")


def rolled_back(data: dict, send) -> Outcome:
    """Run ``send()`` in a savepoint that is always rolled back."""
    with transaction.atomic():
        before, foreign_before = snapshot(), snapshot(data["other_account"])
        response = send()
        outcome = Outcome(
            response, snapshot() != before, snapshot(data["other_account"]) != foreign_before
        )
        transaction.set_rollback(True)
    return outcome


def assert_handled(outcome: Outcome, allowed=(200, 302, 400, 403, 404)) -> None:
    status = outcome.response.status_code
    assert status in allowed, (status, outcome.body[:500])
    assert not outcome.foreign_changed, "another account's rows changed"
    if status != 302:
        assert not outcome.changed, f"a {status} answer changed the database"
        assert outcome.body.strip(), "an empty answer"
    if status == 400:
        assert "Bad request" in outcome.body or "alert" in outcome.body or len(outcome.body) < 500
    if status == 302:
        assert is_local(outcome.response["Location"]), outcome.response["Location"]


@pytest.fixture
def admin_client(dataset) -> Client:
    client = Client()
    client.force_login(dataset["admin"])
    session = client.session
    session[ACCOUNT_SESSION_KEY] = dataset["account"].pk
    session.save()
    return client


# --- the list's query string --------------------------------------------------------

LIST_URL = "/inventory/endpoints/"
SORTS = ["iccid", "-iccid", "name", "-name", "state", "-state", "group", "-group"]
SORTS += ["last_activity", "-last_activity", "?", "iccid,name", "-"]


@pytest.fixture
def list_params(dataset, admin_client) -> dict[str, list[str]]:
    """Real values for each list parameter, cursors included (read from the
    page's own next-page link), for hypothesis to mix with garbage."""
    account_endpoints = [*dataset["endpoints"].values()]
    cursors: list[str] = []
    page = admin_client.get(LIST_URL, {"per_page": "25"})
    for href in _hrefs(page.content.decode()):
        query = parse_qs(urlsplit(href).query)
        cursors += query.get("after", []) + query.get("before", [])
    cursors = cursors[:2]
    assert cursors, "no next-page link on the first page"
    return {
        "state": [*State.values, "deleted"],
        "group": [str(g.pk) for g in dataset["groups"]] + [str(dataset["foreign_group"].pk)],
        "tag": ["fleet-a", "eu", "EU", "fleet a", "a,b"],
        "q": [e.iccid[-6:] for e in account_endpoints]
        + [e.iccid for e in dataset["foreign"]]
        + ["VIN", "active", "23415", "89"],
        "sort": SORTS,
        "per_page": ["25", "50", "100", "250", "1", "1000", "0", "-5"],
        "after": cursors + [c[:-2] for c in cursors] + [c + "A" for c in cursors],
        "before": cursors,
        "page": ["1", "2", "999999999999"],
        "columns": ["name", "imsi", "reference", "tags", "ip"],
    }


def _hrefs(html: str) -> list[str]:
    import re

    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', html)]


@pytest.mark.django_db
@FUZZ
@given(data=st.data())
def test_list_query_parameters_never_break_the_page(data, dataset, admin_client, list_params):
    params = data.draw(params_for(list_params))
    htmx = data.draw(st.booleans())
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    outcome = rolled_back(dataset, lambda: admin_client.get(LIST_URL, params, **headers))

    assert_handled(outcome, allowed=(200, 400))
    for endpoint in dataset["foreign"]:
        # The search box may echo a searched ICCID; no row may link to it.
        assert f"/endpoints/{endpoint.iccid}/" not in outcome.body


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["state", "q", "tag", "group", "sort", "per_page", "after"])
def test_thousands_of_repeated_parameters_are_refused_cleanly(dataset, admin_client, key):
    tolerable = admin_client.get(f"{LIST_URL}?" + "&".join([f"{key}=active"] * 2000))
    assert tolerable.status_code in (200, 400)
    assert tolerable.content.strip()

    flood = admin_client.get(f"{LIST_URL}?" + "&".join([f"{key}=active"] * 5000))
    assert flood.status_code == 400
    assert "Bad request" in flood.content.decode()


# --- sign-in and account switch ----------------------------------------------------


@pytest.fixture
def login_fields(dataset) -> dict[str, list[str]]:
    fields = post_fields(Client().get("/login/").content.decode())
    assert {"username", "password", "next"} <= fields.keys()
    fields["username"] = ["fuzz-admin", "FUZZ-ADMIN", "op"]
    fields["password"] = ["pw", "wrong"]
    fields["next"] = ["/inventory/groups/", "//evil.example", "https://evil.example"]
    return fields


@pytest.mark.django_db
@FUZZ_FORMS
@given(data=st.data())
def test_login_form_survives_anything(data, dataset, login_fields):
    params = data.draw(params_for(login_fields))
    users_before = list(
        dataset["admin"].__class__.objects.order_by("pk").values_list("username", "password")
    )

    client = Client()
    outcome = rolled_back(dataset, lambda: client.post("/login/", params))

    assert_handled(outcome, allowed=(200, 302, 400))
    assert not outcome.changed
    if outcome.response.status_code == 200:
        assert "Sign in" in outcome.body
    users_after = list(
        dataset["admin"].__class__.objects.order_by("pk").values_list("username", "password")
    )
    assert users_after == users_before


@pytest.mark.django_db
@FUZZ_FORMS
@given(data=st.data())
def test_account_switch_survives_anything(data, dataset, admin_client):
    own = [str(dataset["account"].pk), str(dataset["other_account"].pk)]
    fields = {"account": [*own, "0", "999999"], "next": ["/inventory/groups/", "//evil.example"]}
    params = data.draw(params_for(fields))
    key = admin_client.session.session_key

    outcome = rolled_back(dataset, lambda: admin_client.post("/account/switch/", params))

    assert_handled(outcome, allowed=(302, 400, 404))
    assert not outcome.changed
    assert Session.objects.filter(session_key=key).exists()


# --- edit -----------------------------------------------------------------------------


@pytest.mark.django_db
@FUZZ_FORMS
@given(data=st.data())
def test_edit_form_survives_anything(data, dataset, admin_client, edit_fields):
    url, fields = edit_fields
    params = data.draw(params_for(fields))

    outcome = rolled_back(dataset, lambda: admin_client.post(url, params))

    assert_handled(outcome, allowed=(200, 302, 400))
    if outcome.response.status_code == 200:
        assert "<form" in outcome.body


@pytest.fixture
def edit_fields(dataset, admin_client) -> tuple[str, dict[str, list[str]]]:
    endpoint = dataset["endpoints"]["active"]
    url = reverse("inventory:endpoint_edit", args=[endpoint.iccid])
    page = admin_client.get(url)
    assert page.status_code == 200, "the edit screen is not there yet"
    fields = post_fields(page.content.decode())
    assert "name" in fields and "tags" in fields
    for name in fields:
        if name.startswith("static_ip"):
            fields[name] += ["100.64.0.11", "100.64.0.255", "10.0.0.1", "100.64.0.10"]
    fields["tags"] = fields.get("tags", []) + ["a b c", ",".join(f"t{i}" for i in range(25))]
    fields["imei"] = fields.get("imei", []) + ["490154203237518", "4901542032375181"]
    return url, fields


# --- bulk actions and confirmations --------------------------------------------------

BULK = ["endpoint_bulk_assign", "endpoint_bulk_suspend", "endpoint_bulk_terminate"]


@pytest.fixture
def bulk_fields(dataset, admin_client) -> dict[str, dict[str, list[str]]]:
    """Each bulk action's confirmation-page fields, plus real and foreign values."""
    mine = [e.iccid for e in dataset["endpoints"].values()]
    theirs = [e.iccid for e in dataset["foreign"]]
    found = {}
    for action in BULK:
        confirmation = admin_client.post(reverse(f"inventory:{action}"), {"ids": mine[:3]})
        assert confirmation.status_code == 200, "the bulk confirmation page is not there yet"
        fields = post_fields(confirmation.content.decode())
        fields["ids"] = [*fields.get("ids", []), *mine, *theirs]
        fields.setdefault("select_all", []).append("1")
        fields.setdefault("filter", []).extend(["state=active", "group=abc", "q=" + "9" * 200])
        fields.setdefault("group", []).extend(str(g.pk) for g in dataset["groups"])
        fields["group"].append(str(dataset["foreign_group"].pk))
        for name in ("confirm", "typed_count", "count", "reason"):
            fields.setdefault(name, []).extend(["1", "11", "yes"])
        found[action] = fields
    return found


ANY_IDS = st.lists(st.one_of(st.text(max_size=30), HUGE, SPECIAL), min_size=1, max_size=3)


@pytest.mark.django_db
@settings(FUZZ_FORMS, max_examples=40)
@given(data=st.data())
def test_bulk_forms_survive_anything(data, dataset, admin_client, bulk_fields):
    action = data.draw(st.sampled_from(BULK))
    fields = bulk_fields[action]
    params = data.draw(params_for({k: v for k, v in fields.items() if k != "ids"}))
    if data.draw(st.booleans()):
        params["ids"] = data.draw(
            st.lists(st.one_of(st.sampled_from(fields["ids"]), ANY_IDS), max_size=4).map(
                lambda chunks: [v for c in chunks for v in (c if isinstance(c, list) else [c])]
            )
        )

    outcome = rolled_back(
        dataset, lambda: admin_client.post(reverse(f"inventory:{action}"), params)
    )

    assert_handled(outcome)


@pytest.mark.django_db
@pytest.mark.parametrize("action", BULK)
def test_bulk_selection_with_a_nul_byte_is_refused(dataset, admin_client, action):
    outcome = rolled_back(
        dataset, lambda: admin_client.post(reverse(f"inventory:{action}"), {"ids": ["\x00"]})
    )
    assert_handled(outcome, allowed=(302,))


@pytest.fixture
def confirmation_fields(dataset, admin_client) -> dict[str, dict[str, list[str]]]:
    """The fields of the suspend and terminate confirmation pages of an active endpoint."""
    iccid = dataset["endpoints"]["active"].iccid
    found = {}
    for action in ("endpoint_suspend", "endpoint_terminate"):
        page = admin_client.get(reverse(f"inventory:{action}", args=[iccid]))
        assert page.status_code == 200, f"the {action} confirmation page is not there yet"
        fields = post_fields(page.content.decode())
        for name in ("confirm", "reason"):
            fields.setdefault(name, []).extend(["1", "yes"])
        found[action] = fields
    return found


@pytest.mark.django_db
@settings(FUZZ_FORMS, max_examples=40)
@given(data=st.data())
def test_single_confirmations_survive_anything(data, dataset, admin_client, confirmation_fields):
    action = data.draw(st.sampled_from(["endpoint_suspend", "endpoint_terminate"]))
    target = data.draw(st.sampled_from([*dataset["endpoints"].values(), *dataset["foreign"]]))
    url = reverse(f"inventory:{action}", args=[target.iccid])
    params = data.draw(params_for(confirmation_fields[action]))

    outcome = rolled_back(dataset, lambda: admin_client.post(url, params))

    assert_handled(outcome)
    if target in dataset["foreign"]:
        assert outcome.response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "iccid",
    ["x" * 10_000, "8" * 10_000, "../../etc", "%00", "\x00", "8944\x00\n", "١٢٣"]
    + ["89440000000000000000000", "8" * 19 + "\n"],
)
def test_nonsense_iccids_in_urls_are_404s(dataset, admin_client, iccid):
    for suffix in ("", "edit/", "suspend/", "terminate/", "history/", "ip-addresses/"):
        url = f"/inventory/endpoints/{quote(iccid, safe='')}/{suffix}"
        outcome = rolled_back(dataset, lambda url=url: admin_client.post(url, {"confirm": "1"}))
        assert_handled(outcome, allowed=(404, 405))


# --- every URL pattern: path segments and query parameters ---------------------------
#
# The URLconf is walked, not listed by hand: a URL added tomorrow is fuzzed too.
# Each pattern gets a sample URL (its parameters filled with a real ICCID, "1"
# or a real app label), then one segment at a time is replaced by garbage, and
# its page's query parameters (read from the page it renders, plus the admin's
# own and the API's) are given garbage. GET only: nothing may change, nothing
# may be a 5xx, and under /api/ every answer is JSON.


def _templates(patterns=None, prefix: str = "") -> list[str]:
    """Every URL pattern as one route, e.g. "inventory/endpoints/<iccid:iccid>/edit/";
    the admin's regex routes lose their anchors."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            routes += _templates(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            routes.append((prefix + str(pattern.pattern)).replace("^", "").replace("$", ""))
    return routes


TEMPLATES = _templates()
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
WITH_PARAMETERS = [t for t in TEMPLATES if _PARAMETER.search(t)]
#: Query parameters every admin page reads (Django's own names for them).
ADMIN_PARAMS = [ALL_VAR, ORDER_VAR, PAGE_VAR, SEARCH_VAR, ERROR_FLAG, IS_FACETS_VAR]
ADMIN_PARAMS += [IS_POPUP_VAR, TO_FIELD_VAR, "_changelist_filters"]
#: The network API renders no page to read its parameters from (docs/network-api.md).
API_PARAMS = {"api/v1/network/disconnects": ["after", "limit"]}
#: Names the portal's views read that a page shows only with enough data
#: (cursors, history pages) or never links (the "to" of a form's short name).
PORTAL_PARAMS = ["page", "cursor", "after", "before", "sort", "per_page", "next", "from", "to"]

NASTY_SEGMENTS = ["\x00", "a\x00b", "\r\n", "\x1b[31m", "²", "١٢٣", "9" * 400, "x" * 3000]
#: A NUL for PostgreSQL; "²" that isdigit() takes and int() refuses, in a value too long.
NASTY_QUERY = ["\x00", "²" + "9" * 400]
SEGMENT = st.one_of(st.text(max_size=40), HUGE, st.sampled_from(NASTY_SEGMENTS), SPECIAL)


def _filled(part: str, samples: dict[str, str]) -> str:
    return _PARAMETER.sub(lambda m: samples.get(m.group(1) or m.group(2), "1"), part)


def url_for(template: str, samples: dict[str, str], index: int = -1, value: str = "") -> str:
    """The template's sample URL, its ``index``-th segment replaced by ``value``."""
    parts = template.split("/")
    return "/" + "/".join(
        quote(value, safe="") if i == index else _filled(part, samples)
        for i, part in enumerate(parts)
    )


@pytest.fixture
def samples(dataset) -> dict[str, str]:
    return {"iccid": dataset["endpoints"]["active"].iccid, "app_label": "inventory", "url": "x"}


@pytest.fixture
def everywhere(dataset) -> Client:
    """Support staff who are also an admin of the account: every URL answers them,
    and the network API's token rides along."""
    user = dataset["admin"]
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {create_token('fuzz-core')[1]}")
    client.force_login(user)
    session = client.session
    session[ACCOUNT_SESSION_KEY] = dataset["account"].pk
    session.save()
    return client


def assert_answered(response, url: str) -> None:
    """Not a 5xx, JSON under the API, a redirect that stays on site."""
    status = response.status_code
    body = (b"".join(response) if response.streaming else response.content).decode(
        "utf-8", "replace"
    )
    assert status < 500, (url[:300], status, body[:300])
    if url.startswith("/api/") and not url.startswith("/api/v1/docs"):  # the docs are a page
        answer = json.loads(body)
        if response["Content-Type"] == "application/problem+json":
            # The customer API answers errors as problem details (docs/api.md).
            assert answer["status"] == status and answer["detail"], url[:300]
        else:
            assert response["Content-Type"] == "application/json", url[:300]
            assert "error" in answer or status == 200
    if 300 <= status < 400:
        # Django's sign-in follows a relative ``next`` ("²" from /login/): on site still.
        location = urlsplit(response["Location"].replace("\\", "/"))
        assert not (location.scheme or location.netloc), response["Location"]


def get_each(data: dict, client: Client, urls: list[str]) -> None:
    """GET every URL (``assert_answered``), then the database must be as before:
    one snapshot for the lot, in a savepoint that is rolled back."""
    with transaction.atomic():
        before, foreign_before = snapshot(), snapshot(data["other_account"])
        for url in urls:
            assert_answered(client.get(url), url)
        assert snapshot() == before, "a GET changed the database"
        assert snapshot(data["other_account"]) == foreign_before
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_every_path_parameter_survives_nonsense(dataset, everywhere, samples):
    get_each(
        dataset,
        everywhere,
        [
            url_for(template, samples, index, value)
            for template in WITH_PARAMETERS
            for index, part in enumerate(template.split("/"))
            if _PARAMETER.search(part)
            for value in NASTY_SEGMENTS
        ],
    )


@pytest.mark.django_db
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_any_segment_of_any_url_survives_anything(data, dataset, everywhere, samples):
    template = data.draw(st.sampled_from(TEMPLATES))
    index = data.draw(st.integers(0, template.count("/")))

    get_each(dataset, everywhere, [url_for(template, samples, index, data.draw(SEGMENT))])


class _QueryFields(HTMLParser):
    """A page's GET parameters with the values it offers: the fields of its GET
    forms and the query strings of its links and htmx requests."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self._in_get_form = False
        self._select: str | None = None

    def _offer(self, name: str, value: str | None) -> None:
        offered = self.fields.setdefault(name, [])
        if value:
            offered.append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._in_get_form = (attrs.get("method") or "get").lower() == "get"
        if self._in_get_form and tag in ("input", "select", "textarea") and attrs.get("name"):
            self._offer(attrs["name"], attrs.get("value"))
            self._select = attrs["name"] if tag == "select" else None
        if tag == "option" and self._select:
            self._offer(self._select, attrs.get("value"))
        for link in (attrs.get("href"), attrs.get("hx-get")):
            if link and "?" in link:
                for name, values in parse_qs(urlsplit(link).query, keep_blank_values=True).items():
                    for value in values:
                        self._offer(name, value)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_get_form = False
        if tag == "select":
            self._select = None


def query_fields(client: Client, template: str, url: str) -> dict[str, list[str]]:
    """The parameters ``url`` reads, with real values where its page offers them."""
    response = client.get(url)
    parser = _QueryFields()
    if "html" in response.get("Content-Type", ""):
        parser.feed(response.content.decode("utf-8", "replace"))
    fields = parser.fields
    extra = ADMIN_PARAMS if template.startswith("admin/") else PORTAL_PARAMS
    for name in [*extra, *API_PARAMS.get(template, []), "x"]:
        fields.setdefault(name, [])
    return {name: sorted(set(values))[:5] for name, values in fields.items()}


@pytest.mark.django_db
def test_every_query_parameter_of_every_url_survives_nonsense(dataset, everywhere, samples):
    urls = []
    for template in TEMPLATES:
        url = url_for(template, samples)
        urls += [
            f"{url}?{urlencode({name: value})}"
            for name in query_fields(everywhere, template, url)
            for value in NASTY_QUERY
        ]
    get_each(dataset, everywhere, urls)


@pytest.mark.django_db
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_any_query_of_any_url_survives_anything(data, dataset, everywhere, samples):
    template = data.draw(st.sampled_from(TEMPLATES))
    url = url_for(template, samples)
    params = data.draw(params_for(query_fields(everywhere, template, url)))

    get_each(dataset, everywhere, [f"{url}?{urlencode(params, doseq=True)}"])


# --- over-long credentials ------------------------------------------------------------

LENGTHS = [149, 150, 151, 254, 255, 256, 257, 1000, 10_000]
CREDENTIAL = st.one_of(
    st.sampled_from(LENGTHS).map(lambda n: "u" * n),
    st.text(min_size=140, max_size=300),
    st.sampled_from(["\x00", "u\nv", "é" * 200, "😀" * 151]),
    VALUE,
)


@pytest.mark.django_db
@FUZZ_FORMS
@given(url=st.sampled_from(["/login/", "/admin/login/"]), user=CREDENTIAL, password=CREDENTIAL)
def test_any_credentials_at_either_sign_in_are_answered(dataset, url, user, password):
    def sign_in():
        response = Client().post(url, {"username": user, "password": password})
        longest = AccessAttempt.objects.aggregate(longest=Max(Length("username")))["longest"]
        assert (longest or 0) <= 150
        return response

    outcome = rolled_back(dataset, sign_in)

    assert_handled(outcome, allowed=(200,))
    assert "Sign in" in outcome.body or "Log in" in outcome.body


# --- classes of bad input, walked everywhere (#21) ------------------------------------
#
# Each class that once answered a 500 is tried on every place it can reach: text
# PostgreSQL cannot store in every string (and key) of every API body, a body over
# the upload limit on every write route, the calendar's ends on every date filter,
# ``next=`` pointing back at the page itself on every URL.

#: A NUL, and both halves of a UTF-16 pair alone (JSON allows them, PostgreSQL not).
UNSTORABLE = ["a\x00b", "v\ud800v", "\udfff"]


def _api_schema() -> dict:
    from api.main import api

    return api.get_openapi_schema()


def _resolve(node: dict, schema: dict) -> dict:
    if "$ref" in node:
        return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def string_paths(node: dict, schema: dict, path: tuple = ()) -> list[tuple]:
    """Every place in a body of this shape that holds text: a path of keys and
    indexes, ``KEY`` where the key itself is the text (a map's keys)."""
    node = _resolve(node, schema)
    paths = []
    for option in node.get("anyOf", []):
        paths += string_paths(option, schema, path)
    kind = node.get("type")
    if kind == "string":
        paths.append(path)
    elif kind == "array":
        paths += string_paths(node["items"], schema, (*path, 0))
    elif kind == "object":
        for name, child in node.get("properties", {}).items():
            paths += string_paths(child, schema, (*path, name))
        if isinstance(node.get("additionalProperties"), dict):
            paths.append((*path, KEY))
            paths += string_paths(node["additionalProperties"], schema, (*path, "k"))
    return list(dict.fromkeys(paths))


KEY = object()


def body_with(path: tuple, value: str):
    """The smallest JSON value with ``value`` at ``path``."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head is KEY:
        return {value: "x"}
    if isinstance(head, int):
        return [body_with(rest, value)]
    return {head: body_with(rest, value)}


def field_of(path: tuple, value: str) -> str:
    parts = ["body"] + [value if part is KEY else str(part) for part in path]
    return ".".join(parts)


def _api_operations(schema: dict, with_body: bool) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in ("post", "patch", "put", "delete")
        and ("requestBody" in operation or not with_body)
    ]


@pytest.fixture
def api_admin(dataset) -> tuple[Client, dict[str, str]]:
    """A client with an admin API token of the account, and real path values."""
    from api.tokens import create_token as create_api_token
    from webhooks.models import Webhook

    plain = create_api_token(
        account=dataset["account"], name="fuzz", role=Role.ADMIN, created_by=None, creator_role=None
    )[1]
    webhook = Webhook.objects.create(
        account=dataset["account"], url="https://hooks.example/x", event_types=["job.finished"]
    )
    values = {
        "iccid": dataset["endpoints"]["active"].iccid,
        "name": dataset["groups"][0].name,
        "webhook_id": str(webhook.pk),
        "job_id": "1",
    }
    return Client(headers={"Authorization": f"Bearer {plain}"}), values


def _api_url(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(values[m.group(1)], safe=""), path)


@pytest.mark.django_db
def test_unstorable_text_in_any_string_of_any_api_body_is_a_422_naming_it(dataset, api_admin):
    client, values = api_admin
    schema = _api_schema()
    tried = 0
    with transaction.atomic():
        before, foreign_before = snapshot(), snapshot(dataset["other_account"])
        for method, path, operation in _api_operations(schema, with_body=True):
            content = operation["requestBody"]["content"]["application/json"]
            for where in string_paths(content["schema"], schema):
                for value in UNSTORABLE:
                    body = json.dumps(body_with(where, value))  # escapes: \u0000, \ud800
                    response = client.generic(
                        method, _api_url(path, values), body, content_type="application/json"
                    )
                    tried += 1
                    assert response.status_code == 422, (method, path, where, response.content)
                    assert response["Content-Type"] == "application/problem+json"
                    fields = [e["field"] for e in response.json()["errors"]]
                    assert field_of(where, value) in fields, (method, path, fields)
        assert snapshot() == before and snapshot(dataset["other_account"]) == foreign_before
        transaction.set_rollback(True)
    assert tried > 100  # every body's strings: names, tags, maps' keys and values, filters


@pytest.mark.django_db
def test_a_nul_in_any_query_parameter_of_the_api_is_a_422(dataset, api_admin):
    client, values = api_admin
    schema = _api_schema()
    with transaction.atomic():
        for path, methods in schema["paths"].items():
            for parameter in methods.get("get", {}).get("parameters", []):
                if parameter["in"] != "query":
                    continue
                url = _api_url(path, values)
                response = client.get(url, {parameter["name"]: "a\x00b"})
                assert response.status_code == 422, (url, parameter["name"], response.content)
                assert response.json()["errors"][0]["field"] == f"query.{parameter['name']}"
                # Surrogates cannot arrive in a query string: bytes that would
                # encode one are not UTF-8 and decode to U+FFFD.
                response = client.get(f"{url}?{parameter['name']}=%ED%A0%80")
                assert response.status_code < 500, (url, parameter["name"])
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_on_any_api_write_route_is_a_413(dataset, api_admin, settings):
    client, values = api_admin
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4_096
    body = json.dumps({"name": "x" * 5_000})
    routes = _api_operations(_api_schema(), with_body=False)
    with transaction.atomic():
        before = snapshot()
        for method, path, _ in routes:
            response = client.generic(
                method, _api_url(path, values), body, content_type="application/json"
            )
            assert response.status_code == 413, (method, path, response.content)
            assert response["Content-Type"] == "application/problem+json"
            assert response.json()["status"] == 413
        network = Client(HTTP_AUTHORIZATION=f"Bearer {create_token('fuzz-413')[1]}")
        response = network.post("/api/v1/network/events", body, content_type="application/json")
        assert response.status_code == 413 and "error" in response.json()
        assert snapshot() == before
        transaction.set_rollback(True)
    assert len(routes) >= 15


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_on_any_portal_url_is_refused(
    dataset, everywhere, samples, settings
):
    """Django refuses the form as a 400 (docs/production.md); no view gets to act."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4_096
    with transaction.atomic():
        before, foreign_before = snapshot(), snapshot(dataset["other_account"])
        sessions_before = sessions()
        for template in TEMPLATES:
            # The API has its own walk above; signing out acts before it reads the body.
            if template.startswith("api/") or template.endswith("logout/"):
                continue
            url = url_for(template, samples)
            response = everywhere.post(url, {"name": "x" * 5_000, "reason": "y" * 5_000})
            assert response.status_code < 500, (url, response.status_code)
            assert response.status_code != 302 or sessions() == sessions_before, url
        assert snapshot() == before and snapshot(dataset["other_account"]) == foreign_before
        transaction.set_rollback(True)


#: Every date filter of the portal and the API, by URL and parameter names.
DATE_FILTERS = [
    ("/account/audit-log/", ["since", "until"]),
    ("/account/audit-log/export/", ["since", "until"]),
    ("/inventory/events/", ["from", "to"]),
    ("/api/v1/network-events", ["from", "to"]),
]
EXTREME_DATES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "10000-01-01",
    "0000-12-31",
    "-0001-01-01",
    "2026-02-30",
    "2026-13-01",
    "9" * 30,
]


def test_every_page_date_field_is_in_the_walk():
    """A new date input on a page, or a date field in a form, must join the walk
    (DATE_FILTERS, or the token expiry's own test below)."""
    from pathlib import Path

    walked = {name for _, names in DATE_FILTERS for name in names} | {"expires_on"}
    inputs = set()
    for template in Path(settings_module.BASE_DIR, "templates").rglob("*.html"):
        for tag in re.findall(
            r'<input[^>]*type="(?:date|datetime-local)"[^>]*>', template.read_text()
        ):
            inputs.add(re.search(r'name="([^"]+)"', tag).group(1))
    forms = [*Path(settings_module.BASE_DIR).glob("*/forms*.py")]
    forms += Path(settings_module.BASE_DIR).glob("*/forms/*.py")
    with_dates = {
        str(path.relative_to(settings_module.BASE_DIR))
        for path in forms
        if re.search(
            r"\bforms\.(?:Date|DateTime)Field\b|\(forms\.DateTimeField\)", path.read_text()
        )
    }
    assert inputs and inputs <= walked, inputs - walked
    assert with_dates <= {"audit/forms.py", "inventory/forms/events.py", "api/forms.py"}, with_dates


@pytest.mark.django_db
def test_the_calendars_ends_on_every_date_filter_are_answered(dataset, everywhere, api_admin):
    client, _ = api_admin
    with transaction.atomic():
        for url, names in DATE_FILTERS:
            who = client if url.startswith("/api/v1/") else everywhere
            for name in names:
                for value in EXTREME_DATES:
                    response = who.get(url, {name: value})
                    # 302: the export sends a bad filter back to its page to be explained.
                    assert response.status_code in (200, 302, 422), (url, name, value)
                    if url.startswith("/api/"):
                        assert response["Content-Type"].startswith("application/"), url
                    else:
                        assert_answered(response, url)
            # Both ends at once, widest first.
            response = who.get(url, {names[0]: EXTREME_DATES[0], names[1]: EXTREME_DATES[1]})
            assert response.status_code == 200, (url, response.content[:300])
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_next_pointing_at_the_page_itself_never_loops_or_breaks(
    dataset, everywhere, samples, signed_in
):
    """``?next=`` of every URL set to that URL (and to the sign-in pages): no 5xx,
    and never a redirect back to the same address."""
    client = everywhere if signed_in else Client()
    with transaction.atomic():
        for template in TEMPLATES:
            url = url_for(template, samples)
            for target in (url, "/login/", "/login/code/", f"/login/?next={quote(url)}"):
                full = f"{url}?{urlencode({'next': target})}"
                response = client.get(full)
                assert_answered(response, full)
                if 300 <= response.status_code < 400:
                    assert response["Location"] != full, full
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_calendars_ends_as_a_tokens_expiry_are_answered(dataset, admin_client):
    """The one date a form posts: an API token's expiry day."""
    from api.models import ApiToken

    with transaction.atomic():
        for value in EXTREME_DATES:
            response = admin_client.post(
                "/account/api-tokens/", {"name": "dated", "role": "viewer", "expires_on": value}
            )
            assert response.status_code in (200, 302, 400), (value, response.status_code)
        assert set(
            ApiToken.objects.filter(name="dated").values_list("expires_at__year", flat=True)
        ) <= {9999}
        transaction.set_rollback(True)
