from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api.connection import StripeConnectionView, SyncView
from billing.api.customers import CustomerViewSet
from billing.api.mirror_base import STRIPE_ID
from billing.api.notes import CustomerNoteViewSet, NoteExportView
from billing.api.webhooks import AccountWebhookView, PlatformWebhookView

app_name = "billing"

# The SPA's billing API (SPEC §4, docs/billing-api.md): one router, one line per resource.
router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register(rf"customers/(?P<customer_stripe_id>{STRIPE_ID})/notes", CustomerNoteViewSet, basename="customer-note")

urlpatterns: list = [
    path("stripe-connection/", StripeConnectionView.as_view(), name="stripe-connection"),
    path("sync/", SyncView.as_view(), name="sync"),
    path("notes/export.csv", NoteExportView.as_view(), name="notes-export"),
    path("webhooks/stripe/", PlatformWebhookView.as_view(), name="webhook-platform"),
    path("webhooks/stripe/<str:account_id>/", AccountWebhookView.as_view(), name="webhook-account"),
    *router.urls,
]
