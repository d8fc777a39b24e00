from django.urls import path

from billing.api.connection import StripeConnectionView, SyncView

app_name = "billing"

urlpatterns: list = [
    path("stripe-connection/", StripeConnectionView.as_view(), name="stripe-connection"),
    path("sync/", SyncView.as_view(), name="sync"),
]
