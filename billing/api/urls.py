from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from billing.api.catalog import PriceViewSet, ProductViewSet
from billing.api.connection import StripeConnectionView, SyncView
from billing.api.customer_billing import (
    CustomerContactView,
    CustomerInvoiceViewSet,
    CustomerPaymentMethodViewSet,
    CustomerSubscriptionViewSet,
)
from billing.api.customers import CustomerViewSet
from billing.api.mirror_base import STRIPE_ID
from billing.api.notes import CustomerNoteViewSet, NoteExportView
from billing.api.overview import OverviewView
from billing.api.payment_links import PaymentLinkViewSet
from billing.api.payments import ChargeViewSet, DisputeViewSet, RefundViewSet
from billing.api.payouts import PayoutBalanceTransactionViewSet, PayoutViewSet
from billing.api.refunds import ChargeRefundView, RefundRequestViewSet
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
router.register("refund-requests", RefundRequestViewSet, basename="refund-request")
router.register(rf"customers/(?P<customer_id>{STRIPE_ID})/invoices", CustomerInvoiceViewSet, "customer-invoice")
router.register(
    rf"customers/(?P<customer_id>{STRIPE_ID})/payment-methods", CustomerPaymentMethodViewSet, "customer-payment-method"
)
router.register(
    rf"customers/(?P<customer_id>{STRIPE_ID})/subscriptions", CustomerSubscriptionViewSet, "customer-subscription"
)
router.register("payment-links", PaymentLinkViewSet, basename="payment-link")
router.register("payouts", PayoutViewSet, basename="payout")
router.register(
    rf"payouts/(?P<payout_stripe_id>{STRIPE_ID})/balance-transactions",
    PayoutBalanceTransactionViewSet,
    basename="payout-balance-transaction",
)
router.register(rf"customers/(?P<customer_id>{STRIPE_ID})/notes", CustomerNoteViewSet, "customer-note")

urlpatterns: list = [
    path("stripe-connection/", StripeConnectionView.as_view(), name="stripe-connection"),
    path("sync/", SyncView.as_view(), name="sync"),
    path("notes/export.csv", NoteExportView.as_view(), name="notes-export"),
    path("overview/", OverviewView.as_view(), name="overview"),
    path("webhooks/stripe/", PlatformWebhookView.as_view(), name="webhook-platform"),
    path("webhooks/stripe/<str:account_id>/", AccountWebhookView.as_view(), name="webhook-account"),
    # Before the router: `charges/<id>/refund/` is this view, not a route of the charges viewset.
    path("charges/<str:charge_id>/refund/", ChargeRefundView.as_view(), name="charge-refund"),
    re_path(
        rf"^customers/(?P<customer_id>{STRIPE_ID})/contact/$", CustomerContactView.as_view(), name="customer-contact"
    ),
    *router.urls,
]
