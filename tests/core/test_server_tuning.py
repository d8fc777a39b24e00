"""The two speed-ups below the application (found profiling bench/webhooks.py): psycopg's array escaping on
PostgreSQL connections, and Twisted's form parsing under daphne. Each must leave behaviour exactly as it was."""

import pytest
from django.db import connection
from psycopg.types.array import ListDumper
from twisted.internet.address import IPv4Address

from billing.models import Customer
from billing.stripe import mirror
from core.db.psycopg_arrays import FastListDumper
from tests.billing.stripe_objects import today

pytestmark = pytest.mark.django_db

AWKWARD = ['say "hi"', "back\\slash", '\\"both\\"', "", "NULL", "{braces}", "tab\tand space", "ünïcode ✓", None]


def test_json_with_quotes_and_backslashes_round_trips_through_a_bulk_upsert(account):
    """Django's PostgreSQL bulk insert sends each column as an array (UNNEST): the escaping must be exact."""
    objects = [today("customer", id=f"cus_Q{n}", name=text, metadata={"k": text}) for n, text in enumerate(AWKWARD)]

    mirror.upsert_objects(account, "customer", objects)

    stored = {c.stripe_id: c for c in Customer.objects.filter(account=account)}
    for obj in objects:
        assert stored[obj["id"]].data == obj
        assert stored[obj["id"]].name == (obj["name"] or "")


@pytest.mark.parametrize("value", [AWKWARD[:-1], [["nested", 'q"uote'], ["x\\", "y"]], []])
def test_the_fast_list_dumper_writes_what_psycopgs_own_writes(requires_postgres, value):
    connection.ensure_connection()
    adapters = connection.connection.adapters
    assert adapters.get_dumper(list, "t") is FastListDumper  # installed on Django's connections

    def dumped(dumper_class):
        return bytes(dumper_class(list, connection.connection).upgrade(value, "t").dump(value))

    assert dumped(FastListDumper) == dumped(ListDumper)


class _Channel:
    """The little of a Twisted HTTPChannel that a request reads when it is made."""

    class factory:
        class server:
            @staticmethod
            def protocol_connected(request):
                pass

    transport = None

    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 5000)

    def getHost(self):
        return IPv4Address("TCP", "127.0.0.1", 8000)


def test_daphne_requests_leave_form_bodies_unparsed():
    """billing_project.asgi switches off Twisted's parsing of POSTed forms (daphne never reads it): a daphne
    request made the way Twisted makes it no longer parses, and the switch is Twisted's own argument."""
    from daphne.http_protocol import WebRequest

    import billing_project.asgi  # noqa: F401 - installs the switch, as daphne's import of it does

    request = WebRequest(_Channel(), queued=False)

    assert request._parsePOSTFormSubmission is False
    assert WebRequest(_Channel(), parsePOSTFormSubmission=True)._parsePOSTFormSubmission is True
