"""``bytes``: a byte count in decimal units, as allowances are sold."""

from django import template

from usage.selectors import human_bytes

register = template.Library()


@register.filter(name="bytes")
def bytes_(value) -> str:
    return human_bytes(int(value or 0))
