from django.core.management.base import BaseCommand, CommandError

from accounts.services import account_create
from core import errors


class Command(BaseCommand):
    help = "Create an account (tenant) and its owner; prints the new account's id."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="username of the owner (created if new)")
        parser.add_argument("--password", help="password for a new owner")
        parser.add_argument("--email", default="")
        parser.add_argument("--parent", help="id of the agency account this is a sub-account of")

    def handle(self, *args, **options):
        try:
            account = account_create(
                name=options["name"],
                owner_username=options["owner"],
                password=options["password"],
                email=options["email"],
                parent_id=options["parent"],
            )
        except errors.AppError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(str(account.id))
