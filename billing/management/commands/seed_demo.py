from django.core.management.base import BaseCommand

from billing.errors import Conflict
from billing.localdev import demo
from billing.models import StripeConnection, SyncRun
from billing.stripe.sync import sync_start


class Command(BaseCommand):
    help = "Development only: the demo login and account, with demo data in the local Stripe."

    def handle(self, *args, **options):
        account, user = demo.ensure_demo_account()
        seeded = demo.seed_local_stripe()
        self.stdout.write(f"demo account {account.id} ({account.name}), login {user.username}; stripe: {seeded}")
        initialized = StripeConnection.objects.filter(account=account, initialized=True).exists()
        # The local Stripe keeps nothing across runs: freshly seeded data means the mirror must follow it.
        if seeded["seeded"] or not initialized:
            kind = SyncRun.Kind.RESYNC if initialized else SyncRun.Kind.INITIAL
            try:  # queued now, run by the stack's worker once it starts
                run = sync_start(account=account, user=user, kind=kind)
                self.stdout.write(f"initial sync {run.pk} of the demo account queued")
            except Conflict:
                self.stdout.write("initial sync of the demo account already running")
