"""Going through a confirmation page the way a browser does: show it, then post
its own form back (hidden fields included) with what the user filled in."""

from __future__ import annotations

import re
from html import unescape

_FORM = re.compile(r'<form[^>]*data-testid="confirm-form".*?</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def text(response) -> str:
    """What the user reads: tags dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def hidden_fields(response) -> dict[str, list[str]]:
    """The hidden inputs of the page's confirmation form, as it would post them."""
    form = _FORM.search(response.content.decode())
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
