"""Signed-in pages stay out of every cache.

An endpoint list, an export or an admin page read after sign-in must not be
shown again from the browser's cache once the user has signed out (the back
button on a shared computer), nor kept by a proxy. Static files are served by
whitenoise before this runs and keep their far-future caching.
"""

from __future__ import annotations

from django.utils.cache import patch_cache_control


class PrivateNoStoreMiddleware:
    """Adds ``Cache-Control: private, no-store`` to every response to a
    signed-in request. Directives a view already set are kept (Django admin's
    ``no-cache, must-revalidate, max-age=0``); only ``public`` gives way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
