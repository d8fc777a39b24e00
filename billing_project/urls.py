from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.error_views import api_not_found
from marketplace.api.urls import balance_patterns, store_patterns
from plans.api import urls as plans_urls

urlpatterns = [
    path("", include("observability.urls")),  # /healthz/…, /metrics (docs/observability.md)
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/", include("accounts.api.auth_urls")),
    path("api/v1/account/subscription/", include((plans_urls.account_patterns, "plans_account"))),
    path("api/v1/account/", include("accounts.api.urls")),
    # The marketplace (SPEC §5) lives under billing's prefix, before billing's own routes.
    path("api/v1/billing/store/", include((store_patterns, "marketplace"))),
    path("api/v1/billing/balance/", include((balance_patterns, "marketplace-balance"))),
    path("api/v1/billing/", include("billing.api.urls")),
    path("api/v1/metering/", include("metering.api.urls")),
    path("api/v1/admin/billing/", include("billing.api.staff_urls")),
    path("api/v1/contacts/", include("contacts_import.api.urls")),
    path("api/v1/admin/billing/", include((plans_urls.staff_patterns, "plans_staff"))),
    # Last: any other /api/ path is a JSON 404, whatever DEBUG says (core/api/error_views.py).
    re_path(r"^api/", api_not_found, name="api-not-found"),
]

# With DEBUG off, Django's own error pages answer the one error shape too.
handler400 = "core.api.error_views.bad_request"
handler403 = "core.api.error_views.permission_denied"
handler404 = "core.api.error_views.not_found"
handler500 = "core.api.error_views.server_error"
