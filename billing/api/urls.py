from django.urls import path

from billing.api.connection import StripeConnectionView, SyncView
from billing.api.overview import OverviewView
from billing.api.webhooks import AccountWebhookView, PlatformWebhookView

app_name = "billing"

urlpatterns: list = [
    path("stripe-connection/", StripeConnectionView.as_view(), name="stripe-connection"),
    path("sync/", SyncView.as_view(), name="sync"),
    path("overview/", OverviewView.as_view(), name="overview"),
    path("webhooks/stripe/", PlatformWebhookView.as_view(), name="webhook-platform"),
    path("webhooks/stripe/<str:account_id>/", AccountWebhookView.as_view(), name="webhook-account"),
]
