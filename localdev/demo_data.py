"""What the demo holds. No Django imports: the stack launcher prints the login before Django is set up."""

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"  # development only: created only with BILLING_DEV_DEFAULTS=1
DEMO_ACCOUNT_NAME = "Demo Agency"
DEMO_STRIPE_KEY = "sk_test_demo_agency_local_stripe_key"
# The demo account's own Stripe is a connected account of the local Stripe (Connect), so that its objects and
# events stay apart from the platform's, which bills the demo account (SPEC §0): the local Stripe tells accounts
# apart by `Stripe-Account`, not by key.
DEMO_STRIPE_ACCOUNT = "acct_1DemoAgencyLocal"
DEMO_WEBHOOK_SECRET = "whsec_demo_agency_local"

CATALOGUE = [
    ("Starter", 1900, "month"),
    ("Growth", 4900, "month"),
    ("Scale", 49000, "year"),
]
# One-time prices (name, unit amount, currency), used on the payment links.
ONE_TIME_PRICES = [
    ("Setup fee", 15000, "usd"),
    ("Consulting hour", 12000, "eur"),
]
CUSTOMERS = 24
EUR_CUSTOMERS_EVERY = 3  # every third customer pays in euros, the others in dollars

# Payments spread over the last DAYS days (deterministic: a fixed random seed).
SEED = 11
DAYS = 60
PAYMENTS_PER_DAY = (0, 3)  # inclusive range
PAYMENT_AMOUNTS = (2500, 4900, 9900, 14900, 29900)
REFUND_ONE_IN = 9  # about one payment in nine is refunded (half of them partly)
# Disputes opened on some of the oldest payments: (status, reason).
DISPUTES = [
    ("lost", "fraudulent"),
    ("won", "product_not_received"),
    ("needs_response", "subscription_canceled"),
    ("under_review", "duplicate"),
]
PAYOUT_EVERY_DAYS = 14  # each currency's balance is paid out every two weeks
# Payment links: (description, lines [(amount or price name, quantity)], currency, what becomes of it)
PAYMENT_LINKS = [
    ("Website redesign, phase 1", [(250000, 1)], "usd", "open"),
    ("Onboarding", [("Setup fee", 1), (5000, 1)], "usd", "paid"),
    ("Strategy workshop", [("Consulting hour", 6)], "eur", "open"),
    ("Quarterly retainer", [(90000, 1)], "eur", "paid"),
    ("Duplicate of the retainer", [(90000, 1)], "eur", "void"),
]
