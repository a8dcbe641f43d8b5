"""The packet core's JSON API (docs/network-api.md): parse, authenticate, call
``network.py``, answer. Token auth only: no session, no CSRF, no cookies.

Every answer is JSON, errors included, so that the core never has to parse an
HTML error page; a request that is refused as a whole (401, 400, 405, 413)
applies nothing.
"""

from __future__ import annotations

import json
from collections import Counter

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from inventory.models import SessionTeardown
from network import batch as network
from network.auth import authenticate
from portal import metrics
from portal.params import ascii_int

#: Most teardowns one disconnects page returns.
DISCONNECTS_LIMIT = 1000


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _refuse(request: HttpRequest, method: str) -> JsonResponse | None:
    """The 405 or 401 answer the request gets before its body is read, if any."""
    if request.method != method:
        return _error(405, f"Use {method}.", Allow=method)
    if authenticate(request) is None:
        return _error(
            401,
            "Missing, unknown or disabled token: send Authorization: Bearer <token>.",
            WWW_Authenticate='Bearer realm="network"',
        )
    return None


@csrf_exempt
def network_events(request: HttpRequest) -> JsonResponse:
    """POST {"events": [...]} → {"results": [...]} in request order."""
    refused = _refuse(request, "POST")
    if refused:
        return refused
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(413, "The body is too large; send at most 1,000 events per request.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "The body is not JSON.")
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        return _error(400, 'The body has no "events" list.')
    if not events:
        return _error(400, 'The "events" list is empty.')
    if len(events) > network.MAX_EVENTS:
        return _error(
            413, f"{len(events):,} events; send at most {network.MAX_EVENTS:,} per request."
        )
    results = network.apply_events(events=events)
    for status, count in Counter(result.status for result in results).items():
        metrics.network_events.labels(result=status).inc(count)
    return JsonResponse({"results": [result.as_json() for result in results]})


@csrf_exempt
def network_disconnects(request: HttpRequest) -> JsonResponse:
    """GET ?after=<cursor> → the IMSIs whose sessions must end, oldest first,
    and the cursor to ask with next time."""
    refused = _refuse(request, "GET")
    if refused:
        return refused
    after = ascii_int(request.GET.get("after", "0").strip() or "0")
    if after is None:
        return _error(400, "after must be a cursor returned by this API (digits).")
    limit = ascii_int(request.GET.get("limit", str(DISCONNECTS_LIMIT)).strip())
    if limit is None or not 1 <= limit <= DISCONNECTS_LIMIT:
        return _error(400, f"limit must be between 1 and {DISCONNECTS_LIMIT:,}.")
    rows = list(
        SessionTeardown.objects.filter(id__gt=after)
        .order_by("id")
        .values_list("id", "imsi", "endpoint__iccid", "reason", "at")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return JsonResponse(
        {
            "disconnects": [
                {"imsi": imsi, "iccid": iccid, "reason": reason, "at": at.isoformat()}
                for _, imsi, iccid, reason, at in rows
            ],
            "next": str(rows[-1][0] if rows else after),
            "more": more,
        }
    )
