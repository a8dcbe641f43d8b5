"""The worker's RADIUS task: Disconnect-Requests for the sessions the lifecycle
ended (network/radius/disconnect.py, docs/radius.md "Disconnects").

On a queue of its own ("radius"), so that a long bulk job never delays a
disconnect; production runs a worker for it (docs/production.md "RADIUS").
"""

from __future__ import annotations

import logging

from django.conf import settings
from procrastinate.contrib.django import app

from network.radius import disconnect

logger = logging.getLogger("network.radius.disconnect")

QUEUE = "radius"


@app.periodic(cron=getattr(settings, "RADIUS_DISCONNECT_CRON", "* * * * * */5"))
@app.task(name="network.radius_disconnects", queue=QUEUE, queueing_lock="radius_disconnects")
def radius_disconnects(timestamp: int) -> None:
    """Every few seconds: turn new session teardowns into Disconnect-Requests
    and send every pending one (a run that finds another running returns)."""
    totals = disconnect.run()
    if any(count for name, count in totals.items() if not name.endswith("_ms")):
        logger.info("RADIUS disconnects: %s", totals)
