"""The handler registry: keyed by (relationship, type), families by `.*`, never across relationships."""

import pytest

from billing.webhooks import registry as handlers
from billing.webhooks.registry import DuplicateHandler, handler_for, handles
from tests.helpers.handlers import registered


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
