from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api.catalog import PriceViewSet, ProductViewSet
from billing.api.connection import StripeConnectionView, SyncView
from billing.api.customers import CustomerViewSet
from billing.api.payments import ChargeViewSet, DisputeViewSet, RefundViewSet
from billing.api.subscriptions import InvoiceViewSet, SubscriptionViewSet
from billing.api.webhooks import AccountWebhookView, PlatformWebhookView

app_name = "billing"

# The SPA's billing API (SPEC §4, docs/billing-api.md): one router, one line per resource.
router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("products", ProductViewSet, basename="product")
router.register("prices", PriceViewSet, basename="price")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("charges", ChargeViewSet, basename="charge")
router.register("refunds", RefundViewSet, basename="refund")
router.register("disputes", DisputeViewSet, basename="dispute")

urlpatterns: list = [
    path("stripe-connection/", StripeConnectionView.as_view(), name="stripe-connection"),
    path("sync/", SyncView.as_view(), name="sync"),
    path("webhooks/stripe/", PlatformWebhookView.as_view(), name="webhook-platform"),
    path("webhooks/stripe/<str:account_id>/", AccountWebhookView.as_view(), name="webhook-account"),
    *router.urls,
]
