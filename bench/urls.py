"""The portal's URLs plus the stock admin at /stock-admin/ and a naive ninja API at
/naive-api/ (benchmark runs only)."""

from django.urls import include, path

from bench.naive_api import naive
from bench.stock_admin import stock_site

urlpatterns = [
    path("stock-admin/", stock_site.urls),
    path("naive-api/", naive.urls),
    path("", include("config.urls")),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
