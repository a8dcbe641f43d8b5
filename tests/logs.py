"""Log records rendered as production writes them: the formatter and filter that
``settings.LOGGING`` configures for the console handler, built the way
``logging.config`` builds them."""

from __future__ import annotations

import copy
import logging
import logging.config

from django.conf import settings

from portal.request_id import RequestIdLogFilter


def _formatter() -> logging.Formatter:
    configurator = logging.config.DictConfigurator(copy.deepcopy(settings.LOGGING))
    return configurator.configure_formatter(configurator.config["formatters"]["structured"])


def render(record: logging.LogRecord) -> str:
    """The text the console handler writes for ``record`` (request id filter
    applied first, as the handler does)."""
    RequestIdLogFilter().filter(record)
    return _formatter().format(record)
