"""No server-side request forgery: a webhook URL that is or resolves to a
non-public address is refused when saved and when delivered, a redirect is not
followed, and plain http is refused, except in ``WEBHOOK_ALLOWED_NETWORKS``."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from webhooks import ssrf

REFUSED = [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://172.31.255.254/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://2130706433/hook",  # 127.0.0.1 in decimal
    "https://0177.0.0.1/hook",  # in octal
    "https://0x7f.1/hook",  # in hexadecimal, short form
    "https://017700000001/hook",  # the whole address in octal
    "https://localhost/hook",  # a name resolving to loopback
    "https://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "https://[64:ff9b::a00:1]/hook",  # NAT64 around 10.0.0.1
    "https://[fec0::1]/hook",  # site-local (deprecated, still routed inside some sites)
    "https://[feff:ffff::1]/hook",  # the top of fec0::/10
    "https://[3fff::1]/hook",  # documentation (RFC 9637)
    "https://[3fff:fff::1]/hook",  # the top of 3fff::/20
    "https://[5f00::1]/hook",  # segment routing (RFC 9602)
]


@pytest.fixture
def no_allow_list(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ""


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_addresses_are_refused(no_allow_list, url):
    with pytest.raises(ssrf.UnsafeURL, match="refused"):
        ssrf.check(url)


def test_a_name_resolving_to_a_private_address_is_refused(no_allow_list, monkeypatch):
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host == "hooks.customer.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]  # fmt: skip
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(ssrf.UnsafeURL, match=r"10\.0\.0\.7, a private address"):
        ssrf.check("https://hooks.customer.example/in")


def test_a_public_address_is_accepted_and_pinned(no_allow_list):
    target = ssrf.check("https://93.184.215.14:8443/in?x=1")
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "93.184.215.14",
        8443,
        "/in?x=1",
        "93.184.215.14",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://93.184.215.14/in", "must use https"),
        ("ftp://93.184.215.14/in", "must start with https"),
        ("https://user:pw@93.184.215.14/in", "user name or password"),
        ("https:///in", "must start with https"),
        ("https://93.184.215.14:99999/in", "not valid"),
        ("https://93.184.215.14:0/in", "port must be from 1 to 65535"),
        ("http://127.0.0.1:0/in", "port must be from 1 to 65535"),
        ("https://93.184.215.14/a b", "may not contain spaces"),
        ("https://93.184.215.14/a\tb", "may not contain spaces"),
        ("https://93.184.215.14/a\x85b", "may not contain spaces"),
        ("https://93.184.215.14/a\u3000b", "may not contain spaces"),
        ("https://no-such-host.invalid/in", "cannot be resolved"),
    ],
)
def test_bad_urls_say_why(no_allow_list, url, message):
    with pytest.raises(ssrf.UnsafeURL, match=message):
        ssrf.check(url)


def test_the_networks_next_to_the_refused_ones_are_public(no_allow_list):
    """The edges of the added networks: just outside each is a public address."""
    for address in ("fe80::1", "ff00::1"):
        assert ssrf.refusal(ipaddress.ip_address(address))  # still refused
    for address in ("2600::1", "3fff:1000::1", "2a00:1450::1"):
        assert ssrf.refusal(ipaddress.ip_address(address)) == "", address


def test_the_allow_list_admits_loopback_over_http(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = "127.0.0.0/8, 10.9.0.0/16"
    assert ssrf.check("http://127.0.0.1:8080/in").address == "127.0.0.1"
    assert ssrf.check("http://10.9.1.1/in").address == "10.9.1.1"
    with pytest.raises(ssrf.UnsafeURL):
        ssrf.check("http://10.8.1.1/in")


@settings_hypothesis(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda host, path, query: f"https://{host}/{path}?{query}",
            st.text(min_size=1, max_size=20),
            st.text(max_size=30),
            st.text(max_size=30),
        ),
    )
)
def test_normalise_refuses_with_a_reason_or_gives_one_ascii_spelling(url):
    """Whatever is typed: a refusal saying why (never another exception), or an
    ASCII URL without whitespace that normalising again does not change."""
    try:
        normal = ssrf.normalise(url)
    except ssrf.UnsafeURL as exc:
        assert str(exc)
        return
    assert normal.isascii() and not any(ch.isspace() for ch in normal)
    assert ssrf.normalise(normal) == normal
