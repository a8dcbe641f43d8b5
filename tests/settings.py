"""Test settings: the plain-HTTP settings (config/plain_http.py), with static
files found and refreshed on every request."""

from config.plain_http import *  # noqa: F403

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
