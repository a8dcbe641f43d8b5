"""Charts drawn on the server as SVG: no script, no inline style, so they pass
the Content Security Policy as they are and show without JavaScript. Each is
an image with a text label; the page also gives the same numbers as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

from usage.selectors import Day, human_bytes

WIDTH = 720
HEIGHT = 200
_LEFT = 64  # room for the axis labels
_BOTTOM = 24
_TOP = 8
#: Colours with at least 3:1 contrast against white (non-text contrast).
UP_COLOUR = "#1f6f43"
DOWN_COLOUR = "#2b5797"
_AXIS = "#595959"


@dataclass(frozen=True)
class Chart:
    svg: SafeString
    label: str


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n at least ``value`` (at least 1)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # unreachable


def daily_usage(days: list[Day], *, title: str, chart_id: str = "usage-chart") -> Chart:
    """Stacked bars per day, received (down) under sent (up), with a y axis in
    bytes and the first, middle and last dates below."""
    top = _nice_ceiling(max((day.total for day in days), default=0))
    plot_w = WIDTH - _LEFT - 4
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="usage-chart" role="img" aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    for fraction in (0, 0.5, 1):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d0d0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_AXIS}">{escape(human_bytes(int(top * fraction)))}</text>'
        )
    for n, day in enumerate(days):
        x = _LEFT + n * slot + (slot - bar) / 2
        down_h = plot_h * day.bytes_down / top
        up_h = plot_h * day.bytes_up / top
        base = _TOP + plot_h
        if down_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - down_h:.1f}" width="{bar:.1f}" '
                f'height="{down_h:.1f}" fill="{DOWN_COLOUR}"/>'
            )
        if up_h:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - down_h - up_h:.1f}" width="{bar:.1f}" '
                f'height="{up_h:.1f}" fill="{UP_COLOUR}"/>'
            )
    for n in sorted({0, len(days) // 2, len(days) - 1}):
        if 0 <= n < len(days):
            x = _LEFT + n * slot + slot / 2
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11" '
                f'fill="{_AXIS}">{days[n].day:%d %b}</text>'
            )
    parts.append("</svg>")
    total = sum(day.total for day in days)
    label = f"{title}: {human_bytes(total)} in {len(days)} days"
    return Chart(svg=mark_safe("".join(parts)), label=label)
