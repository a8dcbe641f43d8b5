"""Helpers of the webhook tests: a local receiver, a webhook pointing at it, and
a Procrastinate worker run in this process until the queue is empty."""

from __future__ import annotations

import threading

import pytest
from procrastinate.contrib.django import app

from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import SUBSCRIBABLE


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def fast_retries(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = (0.2, 0.4, 0.8)


def add_webhook(account, receiver: Receiver, types=None, url=None):
    webhook = services.create_webhook(
        account=account,
        spec=services.WebhookSpec(
            url=url or receiver.url, event_types=types or [t.value for t in SUBSCRIBABLE]
        ),
    )
    receiver.secret = webhook.secret
    return webhook


def run_queue(queues=("webhooks",)) -> None:
    """Run the queued tasks with a real Procrastinate worker in this process,
    until the queue is empty (its own connections: ``transaction=True``)."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            app.run_worker(
                queues=list(queues), wait=False, listen_notify=False, install_signal_handlers=False
            )
        except BaseException as exc:
            errors.append(exc)

    with app.replace_connector(app.connector.get_worker_connector()):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join(timeout=300)
    if errors:
        raise errors[0]


def run_until(condition, *, timeout: float = 30.0, what: str = "the deliveries") -> None:
    """Run the queue again and again (retries are scheduled a moment later)
    until ``condition()`` holds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        run_queue()
        if condition():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not arrive within {timeout:.0f} s")
        time.sleep(0.1)
