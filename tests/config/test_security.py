"""The portal as deployed and as an attacker meets it: the deploy check with
production settings, Content-Security-Policy, signed-in pages kept out of
caches, login lockout (behind the TLS proxy too), session fixation and open
redirects at sign-in."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory, override_settings

from portal.client_ip import client_ip
from tests.factories import UserFactory

BASE_DIR = Path(settings.BASE_DIR)
PRODUCTION_ENV = {
    "SECRET_KEY": "k7$Rq2!vX9mLp0#zTw4eYb8uNc6hJd1sGf5aKo3iVl-PqWr_Zx" * 2,
    "ALLOWED_HOSTS": "portal.example.com",
    "PORTAL_BASE_URL": "https://portal.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}


def _manage_check_deploy(extra_env: dict[str, str], drop: tuple[str, ...] = ()):
    """``manage.py check --deploy`` in a fresh interpreter: settings are read from
    the environment at import, so the test process's own settings cannot show it."""
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    # Set for the browser tests' own thread; never part of a deployment (async.E001).
    for name in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_passes_with_production_environment():
    result = _manage_check_deploy(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_without_a_secret_key():
    result = _manage_check_deploy(
        {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}, drop=("SECRET_KEY",)
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_deploy_check_warns_without_a_base_url_for_links():
    result = _manage_check_deploy(
        {k: v for k, v in PRODUCTION_ENV.items() if k != "PORTAL_BASE_URL"},
        drop=("PORTAL_BASE_URL",),
    )
    assert result.returncode != 0
    assert "portal.W001" in result.stdout + result.stderr


def test_deploy_check_fails_without_redis():
    """REDIS_URL is the production default: without it each worker counts the
    API's rate limits on its own."""
    result = _manage_check_deploy(
        {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}, drop=("REDIS_URL",)
    )
    assert result.returncode != 0
    assert "api.W001" in result.stdout + result.stderr


def test_deploy_check_fails_with_debug_on():
    result = _manage_check_deploy({**PRODUCTION_ENV, "DEBUG": "1"})
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


def _csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.strip().split()
        directives[name] = values
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/no/such/page/"])
def test_csp_header_forbids_inline_script_and_eval(url):
    response = Client().get(url)

    directives = _csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for source in ("'unsafe-inline'", "'unsafe-eval'"):
        assert source not in directives["script-src"]
        assert source not in directives["style-src"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_csp_header_on_a_signed_in_page(operator):
    client = Client()
    client.force_login(operator)
    response = client.get("/no/such/page/")
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_htmx_is_configured_for_the_csp():
    body = Client().get("/login/").content.decode()
    meta = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', body)
    assert meta, "base.html must carry the htmx-config meta"
    config = json.loads(meta.group(1))
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["selfRequestsOnly"] is True
    # Settling a swapped element copies its attributes; a style attribute set
    # that way is inline style, which style-src 'self' refuses.
    assert "style" not in config["attributesToSettle"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
HX_ON = re.compile(r"\shx-on[:-]", re.IGNORECASE)


def _templates() -> list[Path]:
    return sorted((BASE_DIR / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_templates_need_nothing_the_csp_blocks(template):
    """Inline scripts, on*= handlers, hx-on (evaluated code) and style attributes
    are all refused by the policy; the browser would log a violation."""
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>"
    assert not EVENT_HANDLER.search(text), "inline event handler"
    assert not HX_ON.search(text), "hx-on needs eval"
    assert not STYLE_ATTRIBUTE.search(text), "style attribute (style-src has no unsafe-inline)"


# --- signed-in pages are not cached -----------------------------------------------


def _cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.fixture
def signed_in(operator):
    client = Client()
    client.force_login(operator)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "headers", "shows"),
    [
        ("/inventory/endpoints/", {}, "<html"),
        ("/inventory/endpoints/", {"HX-Request": "true"}, 'id="bulk-form"'),
        ("/inventory/groups/", {}, "<html"),
        ("/inventory/events/", {}, "<html"),
        ("/no/such/page/", {}, "There is nothing at this address"),
    ],
    ids=["list", "list fragment", "groups", "events", "404"],
)
def test_signed_in_pages_are_private_and_not_stored(signed_in, url, headers, shows):
    response = signed_in.get(url, headers=headers)
    body = response.content.decode()
    assert shows in body
    assert ("<html" in body) == (not headers)  # the fragment is only the results
    assert {"private", "no-store"} <= _cache_control(response)


@pytest.mark.django_db
def test_the_csv_export_is_private_and_not_stored(signed_in, account):
    response = signed_in.get("/inventory/endpoints/export.csv")
    assert b"".join(response.streaming_content).startswith(b"iccid,")
    assert {"private", "no-store"} <= _cache_control(response)


@pytest.fixture
def staff_client(db):
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_admin_pages_keep_their_stricter_headers_and_cacheable_ones_are_not_stored(
    staff_client,
):
    changelist = staff_client.get("/admin/inventory/endpoint/")
    assert "Select endpoint to change" in changelist.content.decode()
    # Django admin's own never_cache set stays whole.
    assert {"private", "no-store", "no-cache", "must-revalidate", "max-age=0"} <= _cache_control(
        changelist
    )
    catalog = staff_client.get("/admin/jsi18n/")  # an admin view Django marks cacheable
    assert "gettext" in catalog.content.decode()
    assert {"private", "no-store"} <= _cache_control(catalog)


@pytest.mark.django_db
def test_static_files_and_anonymous_pages_stay_cacheable(signed_in):
    static = signed_in.get("/static/css/portal.css")
    assert static.status_code == 200
    assert "no-store" not in _cache_control(static)
    health = Client().get("/healthz")
    assert health.content == b"ok"
    assert "no-store" not in _cache_control(health)


# --- login abuse ---------------------------------------------------------------


def _login(client, username, password, ip, **extra):
    return client.post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


@pytest.mark.django_db
def test_lockout_after_the_failure_limit_for_that_username_and_ip_only(operator):
    limit = settings.AXES_FAILURE_LIMIT
    attacker = Client()
    for attempt in range(limit - 1):
        response = _login(attacker, "op", f"wrong{attempt}", "203.0.113.7")
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()
    response = _login(attacker, "op", "wrong-last", "203.0.113.7")
    assert response.status_code == 429

    # Even the right password is refused now, with the clear page.
    locked = _login(attacker, "op", "pw", "203.0.113.7")
    body = locked.content.decode()
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in body
    assert "locked for 15 minutes" in body
    assert "_auth_user_id" not in attacker.session
    attempt = AccessAttempt.objects.get(username="op", ip_address="203.0.113.7")
    assert attempt.failures_since_start >= limit

    # The real user from another address signs in.
    owner = Client()
    response = _login(owner, "op", "pw", "198.51.100.20")
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(operator.pk)

    # Another username from the attacker's address is not locked either.
    other = Client()
    response = _login(other, "someone-else", "nope", "203.0.113.7")
    assert response.status_code == 200
    assert "Too many failed sign-ins" not in response.content.decode()


# --- the client's address, and the lockout behind the proxy ------------------------

PROXY = "10.0.0.2"
ATTACKER = "198.51.100.66"
VICTIM = "203.0.113.9"


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, ATTACKER, None, ATTACKER),
        (0, ATTACKER, VICTIM, ATTACKER),  # no proxy: the header is the client's word
        (1, PROXY, ATTACKER, ATTACKER),
        (1, PROXY, f"{VICTIM}, {ATTACKER}", ATTACKER),  # a spoofed left-most entry
        (1, PROXY, f"1.1.1.1, 2.2.2.2,{VICTIM} ,{ATTACKER}", ATTACKER),
        (2, PROXY, f"{VICTIM}, {ATTACKER}, 10.0.0.1", ATTACKER),
        (1, ATTACKER, None, ATTACKER),  # straight to the server, past the proxy
        (2, PROXY, ATTACKER, PROXY),  # through fewer proxies than configured
        (1, PROXY, "unknown", PROXY),
        (1, PROXY, "2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_the_client_address_is_taken_from_the_trusted_proxy_only(
    settings, proxies, remote, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded

    assert client_ip(RequestFactory().post("/login/", **meta)) == expected


def _behind_proxy(client, url, password, forwarded):
    """A sign-in as "victim" through the proxy, which appends the real address."""
    return client.post(
        url,
        {"username": "victim", "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_behind_the_proxy_failures_lock_only_the_attackers_address(settings, url):
    settings.TRUSTED_PROXY_COUNT = 1
    victim = UserFactory(username="victim", is_staff=True)
    attacker = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # Claiming to be the victim's address: the proxy's entry comes last.
        _behind_proxy(attacker, url, f"wrong{attempt}", f"{VICTIM}, {ATTACKER}")

    locked = _behind_proxy(attacker, url, "pw", ATTACKER)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in attacker.session
    attempt = AccessAttempt.objects.get(username="victim")
    assert attempt.ip_address == ATTACKER

    owner = Client()
    response = _behind_proxy(owner, url, "pw", VICTIM)
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(victim.pk)
    assert not AccessAttempt.objects.filter(ip_address__in=[VICTIM, PROXY]).exists()


@pytest.mark.django_db
def test_without_a_proxy_a_rotating_x_forwarded_for_does_not_escape_the_lock(settings):
    assert settings.TRUSTED_PROXY_COUNT == 0
    UserFactory(username="victim")
    attacker = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _login(
            attacker,
            "victim",
            f"wrong{attempt}",
            ATTACKER,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}",
        )

    locked = _login(attacker, "victim", "pw", ATTACKER, HTTP_X_FORWARDED_FOR=VICTIM)
    assert locked.status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ATTACKER]


@pytest.mark.django_db
def test_session_key_rotates_at_login(operator):
    client = Client()
    session = client.session
    session["before_login"] = "x"
    session.save()
    anonymous_key = session.session_key

    response = _login(client, "op", "pw", "198.51.100.21")

    assert response.status_code == 302
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != anonymous_key
    assert not Session.objects.filter(session_key=anonymous_key).exists()
    assert Session.objects.get(session_key=new_key).get_decoded()["_auth_user_id"] == str(
        operator.pk
    )


EVIL_NEXT = [
    "//evil.example",
    "//evil.example/inventory/endpoints/",
    "https://evil.example",
    "http://evil.example/login/",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    " //evil.example",
    "https:evil.example",
    "///evil.example",
]


@pytest.mark.django_db
@pytest.mark.parametrize("target", EVIL_NEXT)
def test_login_never_redirects_off_site(operator, target):
    client = Client()
    page = client.get("/login/", {"next": target})
    assert "evil.example" not in page.content.decode()
    assert "javascript:" not in page.content.decode().lower()

    response = client.post(
        "/login/", {"username": "op", "password": "pw", "next": target}, REMOTE_ADDR="10.9.9.9"
    )

    assert response.status_code == 302
    assert response["Location"] == "/inventory/endpoints/"
    assert client.session["_auth_user_id"] == str(operator.pk)


@pytest.mark.django_db
def test_login_follows_a_next_on_our_own_host(operator):
    client = Client()
    response = client.post(
        "/login/",
        {"username": "op", "password": "pw", "next": "/inventory/groups/?tag=x"},
        REMOTE_ADDR="10.9.9.8",
    )
    assert response.status_code == 302
    assert response["Location"] == "/inventory/groups/?tag=x"


@pytest.mark.django_db
@pytest.mark.parametrize("target", EVIL_NEXT[:6])
def test_account_switch_never_redirects_off_site(operator, other_account, target):
    from portal.models import Role
    from tests.factories import MemberFactory

    MemberFactory(user=operator, account=other_account, role=Role.VIEWER)
    client = Client()
    client.force_login(operator)
    response = client.post("/account/switch/", {"account": other_account.pk, "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/inventory/endpoints/"
    assert client.session["current_account_id"] == other_account.pk


@override_settings(DEBUG=False)
@pytest.mark.django_db
def test_security_headers_on_a_page():
    response = Client().get("/login/")
    assert response["Referrer-Policy"] == "same-origin"
    assert response.cookies["csrftoken"]["httponly"]
    assert response.cookies["csrftoken"]["samesite"] == "Lax"
