"""`python -m localdev.seed_demo`: the demo login and account, with demo data in the local Stripe, and the demo
account's sync queued. Development only: the development stack runs it; the product never imports localdev."""

import os
import sys


def seed_demo(out=print) -> None:
    from billing.models import StripeConnection, SyncRun
    from billing.stripe.sync import sync_start
    from core.errors import Conflict
    from localdev import demo, demo_plans

    account, user = demo.ensure_demo_account()
    seeded = demo.seed_local_stripe()
    demo.record_payment_links(account, user, seeded.pop("payment_link_invoices", []))
    out(f"demo account {account.id} ({account.name}), login {user.username}; stripe: {seeded}")
    demo_plans.seed_plans(out)
    from localdev.demo_metering import seed_metering

    out(f"demo metering: {seed_metering(account)}")
    initialized = StripeConnection.objects.filter(account=account, initialized=True).exists()
    # The local Stripe keeps nothing across runs: freshly seeded data means the mirror must follow it.
    if seeded["seeded"] or not initialized:
        kind = SyncRun.Kind.RESYNC if initialized else SyncRun.Kind.INITIAL
        try:  # queued now, run by the stack's worker once it starts
            run = sync_start(account=account, user=user, kind=kind)
            out(f"initial sync {run.pk} of the demo account queued")
        except Conflict:
            out("initial sync of the demo account already running")


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    import django

    django.setup()
    seed_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
