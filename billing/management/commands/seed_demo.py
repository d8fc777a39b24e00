from django.core.management.base import BaseCommand

from billing.localdev import demo


class Command(BaseCommand):
    help = "Development only: the demo login and account, with demo data in the local Stripe."

    def handle(self, *args, **options):
        account, user = demo.ensure_demo_account()
        seeded = demo.seed_local_stripe()
        self.stdout.write(f"demo account {account.id} ({account.name}), login {user.username}; stripe: {seeded}")
