"""The handler registry: keyed by (relationship, type), families by `.*`, never across relationships."""

import pytest

from billing.webhooks import registry as handlers
from billing.webhooks.registry import DuplicateHandler, handler_for, handles
from tests.helpers.handlers import listening, registered


def account_handler(event):
    pass


def platform_handler(event):
    pass


def family_handler(event):
    pass


def subfamily_handler(event):
    pass


def test_a_handler_is_found_only_for_its_own_relationship():
    with registered("account", "zz.thing.created", account_handler):
        assert handler_for("account", "zz.thing.created") is account_handler
        assert handler_for("platform", "zz.thing.created") is None
        with registered("platform", "zz.thing.created", platform_handler):
            assert handler_for("platform", "zz.thing.created") is platform_handler
            assert handler_for("account", "zz.thing.created") is account_handler


def test_exact_types_win_over_families_and_longer_families_over_shorter():
    with (
        registered("account", "zz.*", family_handler),
        registered("account", "zz.dispute.*", subfamily_handler),
        registered("account", "zz.dispute.closed", account_handler),
    ):
        assert handler_for("account", "zz.succeeded") is family_handler
        assert handler_for("account", "zz.dispute.created") is subfamily_handler
        assert handler_for("account", "zz.dispute.closed") is account_handler
        assert handler_for("account", "zzz.succeeded") is None
        assert handler_for("platform", "zz.dispute.created") is None


def test_registering_a_second_handler_for_the_same_key_is_an_error():
    with registered("account", "zz.dup", account_handler):
        with pytest.raises(DuplicateHandler):
            handles("account", "zz.dup")(platform_handler)
        handles("account", "zz.dup")(account_handler)  # the same function again (a re-import) is fine


def test_unknown_relationships_are_refused():
    with pytest.raises(ValueError):
        handles("customer", "zz.x")


def test_every_registered_account_handler_is_for_the_account_relationship():
    assert all(rel == "account" for rel, _ in handlers.registered("account"))


def test_listeners_run_after_the_handler_in_registration_order():
    calls = []

    def handler(event):
        calls.append("handler")

    def first(event):
        calls.append("first")

    def second(event):
        calls.append("second")

    with (
        registered("account", "zz.paid", handler),
        listening("account", "zz.paid", first),
        listening("account", "zz.*", second),
    ):
        handler_for("account", "zz.paid")(object())
        assert calls == ["handler", "first", "second"]
        # The family's listener hears the family's other types too, with no handler of their own.
        calls.clear()
        handler_for("account", "zz.refunded")(object())
        assert calls == ["second"]
        # Never across relationships, and one (handler, listeners) pair is one function.
        assert handler_for("platform", "zz.paid") is None
        assert handler_for("account", "zz.paid") is handler_for("account", "zz.paid")
    assert handler_for("account", "zz.paid") is None


def test_a_listener_is_registered_once_however_often_its_module_is_read():
    def listener(event):
        pass

    with listening("platform", "zz.done", listener):
        handlers.listens("platform", "zz.done")(listener)
        # Other apps listen on the platform too (metering on checkout.session.completed): this key only.
        assert handlers.listeners("platform")[("platform", "zz.done")] == [listener]
