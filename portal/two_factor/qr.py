"""The enrolment QR code, drawn on the server as SVG markup for the page itself:
no image service, no script, no inline style (CSP ``style-src 'self'``)."""

from __future__ import annotations

import segno
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def svg(data: str, *, label: str) -> SafeString:
    """``data`` as an inline ``<svg role="img">`` named ``label`` for screen readers."""
    markup = segno.make(data, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff")
    return mark_safe(markup.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))
