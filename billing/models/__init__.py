from billing.models.catalog import Price, Product
from billing.models.connection import StripeConnection, SyncResource, SyncRun
from billing.models.customers import Customer, PaymentMethod
from billing.models.events import WebhookBackfill, WebhookEvent
from billing.models.payments import BalanceTransaction, Charge, Dispute, Invoice, Payout, Refund
from billing.models.records import CustomerContactLink, CustomerNote, PaymentLink, RefundRequest
from billing.models.subscriptions import Subscription, SubscriptionItem

__all__ = [
    "BalanceTransaction",
    "Charge",
    "Customer",
    "CustomerContactLink",
    "CustomerNote",
    "Dispute",
    "Invoice",
    "PaymentLink",
    "PaymentMethod",
    "Payout",
    "Price",
    "Product",
    "Refund",
    "RefundRequest",
    "StripeConnection",
    "Subscription",
    "SubscriptionItem",
    "SyncResource",
    "SyncRun",
    "WebhookBackfill",
    "WebhookEvent",
]
