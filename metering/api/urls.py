from django.urls import path

from metering.api.attributions import AttributionsView
from metering.api.extras import ExtrasCheckoutView, ExtrasView
from metering.api.usage import UsageView

app_name = "metering"

urlpatterns = [
    path("attributions/", AttributionsView.as_view(), name="attributions"),
    path("usage/", UsageView.as_view(), name="usage"),
    path("extras/", ExtrasView.as_view(), name="extras"),
    path("extras/checkout/", ExtrasCheckoutView.as_view(), name="extras-checkout"),
]
