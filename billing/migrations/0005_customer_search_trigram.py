"""Customer search (`?search=`, part of an email or name, any case) in index time on PostgreSQL: trigram GIN
indexes on the expressions Django's `icontains` compares (`UPPER(col::text) LIKE UPPER('%...%')`). pg_trgm is a
trusted extension (PostgreSQL 13+): the database's owner may create it. SQLite has no such index and scans (the
development default; docs/billing-api.md)."""

from django.db import migrations

INDEXES = (
    ("bl_customer_email_trgm", "email"),
    ("bl_customer_name_trgm", "name"),
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON billing_customer USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_account_billing_records")]

    operations = [migrations.RunPython(create, drop)]
