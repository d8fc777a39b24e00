"""A faster text dumper for Python lists on PostgreSQL connections (psycopg 3), installed on every connection
Django opens (`install`, connected in CoreConfig.ready()).

Django 5.2 bulk-inserts on PostgreSQL with UNNEST: each column goes as one array parameter. psycopg's text
array dumper escapes every quoted element with `re.sub(rb'(["\\\\])', rb"\\\\\\1", ...)`, a replacement template
expanded once per match; a mirrored Stripe object is JSON with hundreds of quotes, so under the webhook bench
that escaping was a quarter of a worker's CPU. Two `bytes.replace` calls do the same escaping (backslashes
first, then quotes) in a fraction of the time; everything else is psycopg's own dumper.
"""

from psycopg.types.array import ListDumper


class _Escape:
    """Stands in for ListDumper's escaping pattern: only its `sub(template, data)` is used."""

    @staticmethod
    def sub(_template, data) -> bytes:
        return bytes(data).replace(b"\\", b"\\\\").replace(b'"', b'\\"')


class FastListDumper(ListDumper):
    _re_esc = _Escape()


def install(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: PostgreSQL (psycopg 3) connections get FastListDumper for lists."""
    if connection.vendor == "postgresql" and hasattr(connection.connection, "adapters"):
        connection.connection.adapters.register_dumper(list, FastListDumper)
