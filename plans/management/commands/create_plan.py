"""`python manage.py create_plan pro "Pro" --weekly-quota 10000 --price month:2900:usd --price year:29000:usd`:
what `POST /api/v1/admin/billing/plans/` does, from the shell."""

import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import AppError
from plans.services.catalog import plan_create


def _price(value: str) -> dict:
    try:
        interval, amount, currency = value.split(":")
        return {"interval": interval, "amount": int(amount), "currency": currency}
    except ValueError:
        raise CommandError(f"--price {value!r}: interval:amount_in_cents:currency, e.g. month:2900:usd") from None


class Command(BaseCommand):
    help = "Creates a plan, its version 1, and its product and prices in the platform's Stripe."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--weekly-quota", type=int, required=True)
        parser.add_argument("--ratios", default=None, help='JSON, e.g. \'{"gpu": "2.5", "default": "1"}\'')
        parser.add_argument("--price", action="append", required=True, help="interval:amount_in_cents:currency")
        parser.add_argument("--private", action="store_true", help="Not offered at checkout.")

    def handle(self, *args, slug, name, weekly_quota, ratios, price, private, **options):
        if weekly_quota < 0:
            raise CommandError("--weekly-quota must be zero or more.")
        try:
            ratios = json.loads(ratios) if ratios else None
        except json.JSONDecodeError as error:
            raise CommandError(f"--ratios is not JSON: {error}") from None
        try:
            version = plan_create(
                slug=slug,
                name=name,
                weekly_quota=weekly_quota,
                ratios=ratios,
                prices=[_price(value) for value in price],
                public=not private,
            )
        except AppError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"plan {slug} v{version.version}: month={version.stripe_price_month or '-'} "
            f"year={version.stripe_price_year or '-'}"
        )
