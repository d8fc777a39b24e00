from django.urls import path

from billing.api.webhooks import AccountWebhookView, PlatformWebhookView

app_name = "billing"

urlpatterns: list = [
    path("webhooks/stripe/", PlatformWebhookView.as_view(), name="webhook-platform"),
    path("webhooks/stripe/<str:account_id>/", AccountWebhookView.as_view(), name="webhook-account"),
]
