"""The staff toolkit's webhook operations under /api/v1/admin/billing/ (included by billing_project/urls.py beside
plans' staff URLs)."""

from django.urls import path

from billing.api.staff_webhooks import DeadLettersView, DeadLetterView, WebhookReplayView

app_name = "billing_staff"

urlpatterns = [
    path("dead-letters/", DeadLettersView.as_view(), name="dead-letters"),
    path("dead-letters/<str:event_id>/", DeadLetterView.as_view(), name="dead-letter"),
    path("webhook/replay/", WebhookReplayView.as_view(), name="webhook-replay"),
]
