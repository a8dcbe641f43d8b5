"""Test settings: the plain-HTTP settings (config/plain_http.py), with static
files found and refreshed on every request."""

from config.plain_http import *  # noqa: F403

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Staff in these tests sign in with force_login (no second factor); the two-factor
# tests (tests/portal/test_two_factor_admin.py) turn the requirement on.
ADMIN_REQUIRE_MFA = False
