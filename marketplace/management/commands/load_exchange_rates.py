"""Loads exchange rates to BASE_CURRENCY into the table staff maintain (marketplace/rates.py):
`manage.py load_exchange_rates rates.csv` (lines `currency,rate`) or `--rate eur=1.08 --rate gbp=1.27`."""

import csv

from django.core.management.base import BaseCommand, CommandError

from marketplace.services.rates import RateError, rates_load


class Command(BaseCommand):
    help = "Load exchange rates (units of BASE_CURRENCY per unit of a currency) from a CSV file or --rate."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="A CSV file of `currency,rate` lines (a header line is skipped).")
        parser.add_argument("--rate", action="append", default=[], help="currency=rate, repeatable.")
        parser.add_argument("--source", default="command", help="Recorded on the rates (and on entries using them).")

    def handle(self, *args, **options):
        rows: list[tuple[str, str]] = []
        if options["file"]:
            with open(options["file"], newline="") as handle:
                for line in csv.reader(handle):
                    if line and not line[0].strip().lower().startswith("currency"):
                        rows.append((line[0], line[1] if len(line) > 1 else ""))
        for item in options["rate"]:
            currency, _, rate = item.partition("=")
            rows.append((currency, rate))
        if not rows:
            raise CommandError("Give a CSV file or at least one --rate currency=rate.")
        try:
            loaded = rates_load(rows=rows, source=options["source"])
        except RateError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Loaded {loaded} rate(s).")
