"""Which parts of a URL are secrets, and the text of a log record without them.

A password-reset link (``/password-reset/<uid>/<token>/``) and an invitation link
(``/invitation/<token>/``) are bearer credentials until used or expired: whoever
reads them in a log can take the account or join it. The access log writes its
``path=`` through ``redact``, and ``RedactSecretsFilter`` rewrites every other
record (Django's "Bad Request: /invitation/…", a CSRF failure) before any
handler sees it. Query parameters named like a credential are redacted too.
"""

from __future__ import annotations

import logging
import re

REDACTED = "REDACTED"

_SEGMENT = r"[^/\s?#\"']+"
_SECRETS = [
    # The invitation's signed token.
    re.compile(rf"(/invitation/){_SEGMENT}"),
    # The reset token after the user id; Django's own "set-password" stand-in is no secret.
    re.compile(rf"(/password-reset/{_SEGMENT}/)(?!set-password/){_SEGMENT}(?=/)"),
    # Credentials passed as query parameters.
    re.compile(r"([?&](?:token|secret|key|signature|code)=)[^&\s#\"']+", re.IGNORECASE),
]


def redact(text: str) -> str:
    """``text`` with every secret of a URL replaced by ``REDACTED``."""
    for pattern in _SECRETS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message without the secrets of any URL in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
