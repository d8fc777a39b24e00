"""What the demo holds. No Django imports: the stack launcher prints the login before Django is set up."""

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"  # development only: created only with BILLING_DEV_DEFAULTS=1
DEMO_ACCOUNT_NAME = "Demo Agency"
DEMO_STRIPE_KEY = "sk_test_demo_agency_local_stripe_key"
DEMO_WEBHOOK_SECRET = "whsec_demo_agency_local"

CATALOGUE = [
    ("Starter", 1900, "month"),
    ("Growth", 4900, "month"),
    ("Scale", 49000, "year"),
]
CUSTOMERS = 24
