"""Test settings: the plain-HTTP settings (config/plain_http.py), with static
files found and refreshed on every request."""

import os

from config.plain_http import *  # noqa: F403

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Staff in these tests sign in with force_login (no second factor); the two-factor
# tests (tests/portal/test_two_factor_admin.py) turn the requirement on.
ADMIN_REQUIRE_MFA = False

# The fuzz tests send thousands of requests without a customer API token, all
# from 127.0.0.1; the tests of that limit set their own (tests/api/test_rate_limits.py).
API_ANONYMOUS_RATE_LIMIT = int(os.environ.get("API_ANONYMOUS_RATE_LIMIT", "1000000"))
