"""The links of a keyset-paged event page (Activity, Network events): the
newest page and the next older one keep the filters, so every state of the
page is a link; the templates' results frame shows them."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import urlencode


def paging_links(
    request: HttpRequest, *, filters: tuple[str, ...], next_cursor: str | None
) -> dict:
    """first_page, newest_url, older_url ("" on the last page) and filtered
    (whether any of ``filters`` is set), for the template's context."""
    given = {key: value for key, value in request.GET.items() if key in filters and value}
    return {
        "first_page": not request.GET.get("cursor"),
        "newest_url": "?" + urlencode(given) if given else "?",
        "older_url": "?" + urlencode({**given, "cursor": next_cursor}) if next_cursor else "",
        "filtered": bool(given),
    }
