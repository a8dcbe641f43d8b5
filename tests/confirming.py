"""Going through a confirmation page the way a browser does: show it, then post
its own form back (hidden fields included) with what the user filled in."""

from __future__ import annotations

import re
from html import unescape

_FORM = re.compile(r'<form[^>]*data-testid="confirm-form".*?</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _html(page) -> str:
    return page if isinstance(page, str) else page.content.decode()


def text(page) -> str:
    """What the user reads of ``page`` (a response or its HTML): tags dropped,
    whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", _html(page))))


def hidden_fields(page) -> dict[str, list[str]]:
    """The hidden inputs of the confirmation form of ``page`` (a response or
    its HTML), as the form would post them."""
    form = _FORM.search(_html(page))
    assert form, "no confirmation form on the page"
    fields: dict[str, list[str]] = {}
    for name, value in _HIDDEN.findall(form.group(0)):
        fields.setdefault(name, []).append(unescape(value))
    return fields


def confirm(client, url: str, data: dict | None = None, **filled):
    """Show the confirmation of ``url`` (POST ``data`` for a bulk action, GET
    without it for one endpoint) and press its button with ``filled`` typed in."""
    page = client.post(url, data) if data is not None else client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, {**hidden_fields(page), **filled})
