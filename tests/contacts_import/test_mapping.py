"""The mapping (contacts_import/mapping.py) as pure functions: keys with dots or hyphens, Stripe's address words,
whole addresses and shipping, custom fields from metadata, names, missing values, and what is refused."""

import pytest

from contacts_import.mapping import (
    CustomerInvalid,
    MappingInvalid,
    changes,
    is_free_mail,
    map_customer,
    mapping_validate,
    stripe_value,
)

CUSTOMER = {
    "id": "cus_1",
    "email": "  Ada@Example.COM ",
    "name": "Ada King Lovelace",
    "phone": "+44 20 7946 0000",
    "description": None,
    "address": {
        "line1": "12 St James's Sq",
        "line2": "Flat 3",
        "city": "London",
        "state": "LND",
        "postal_code": "SW1Y 4JH",
        "country": "gb",
    },
    "shipping": {
        "name": "Ada",
        "phone": None,
        "address": {
            "line1": "1 Dock Rd",
            "line2": None,
            "city": "Leeds",
            "state": None,
            "postal_code": "LS1",
            "country": "GB",
        },
    },
    "metadata": {"plan": "gold", "empty": ""},
}


def test_hyphen_and_dot_keys_are_the_same_key():
    assert mapping_validate({"address-city": "address-city"}) == {"address.city": "address.city"}
    assert mapping_validate({"address.city": "address.city"}) == {"address.city": "address.city"}
    assert mapping_validate({"shipping-address-line1": "shipping.street"}) == {
        "shipping.address.line1": "shipping.street"
    }


def test_stripe_address_words_become_the_contacts():
    mapped = map_customer(
        CUSTOMER,
        mapping_validate(
            {
                "address-line1": "address.street",
                "address.state": "address.state_province",
                "address-city": "address.city",
            }
        ),
        contact_type="person",
    )
    assert mapped.columns == {
        "email": "ada@example.com",
        "address_street": "12 St James's Sq, Flat 3",
        "address_state_province": "LND",
        "address_city": "London",
    }


def test_the_contacts_words_read_stripes_fields_too():
    """The seed's own example: `address-street` and `address-state` on the Stripe side."""
    mappings = mapping_validate(
        {"address-street": "address.street", "address-state_province": "address.state_province"}
    )
    assert (
        map_customer(CUSTOMER, mappings, contact_type="person").columns["address_street"] == "12 St James's Sq, Flat 3"
    )
    assert stripe_value(CUSTOMER, "address.state_province") == "LND"


def test_whole_address_and_shipping():
    mapped = map_customer(
        CUSTOMER, mapping_validate({"address": "address", "shipping": "shipping"}), contact_type="person"
    )
    assert {k: v for k, v in mapped.columns.items() if k != "email"} == {
        "address_street": "12 St James's Sq, Flat 3",
        "address_city": "London",
        "address_state_province": "LND",
        "address_postal_code": "SW1Y 4JH",
        "address_country": "GB",  # upper-cased
        "shipping_street": "1 Dock Rd",
        "shipping_city": "Leeds",
        "shipping_postal_code": "LS1",
        "shipping_country": "GB",
    }


def test_nested_shipping_paths_and_custom_fields_from_metadata():
    mappings = mapping_validate(
        {"shipping.address.city": "shipping.city", "shipping.name": "custom.ship_to", "metadata.plan": "custom.plan"}
    )
    mapped = map_customer(CUSTOMER, mappings, contact_type="person")
    assert mapped.columns["shipping_city"] == "Leeds"
    assert mapped.custom == {"ship_to": "Ada", "plan": "gold"}


def test_name_is_first_and_last_for_a_person_and_the_business_name_for_a_business():
    mappings = mapping_validate({"name": "name"})
    person = map_customer(CUSTOMER, mappings, contact_type="person").columns
    assert (person["first_name"], person["last_name"]) == ("Ada King", "Lovelace")
    single = map_customer({**CUSTOMER, "name": "Cher"}, mappings, contact_type="person").columns
    assert single["first_name"] == "Cher" and "last_name" not in single
    assert map_customer(CUSTOMER, mappings, contact_type="business").columns["business_name"] == "Ada King Lovelace"


def test_missing_values_are_left_out_never_written_as_blanks():
    mappings = mapping_validate(
        {
            "description": "custom.note",
            "metadata.empty": "custom.empty",
            "metadata.absent": "custom.absent",
            "shipping.phone": "phone",
            "address.line2": "custom.line2",
        }
    )
    bare = {"id": "cus_2", "email": None, "address": None}
    assert map_customer(bare, mappings, contact_type="person").columns == {}
    mapped = map_customer(CUSTOMER, mappings, contact_type="person")
    assert mapped.custom == {"line2": "Flat 3"} and "phone" not in mapped.columns
    # A contact's value stays when Stripe has none.
    columns, custom, old = changes({"phone": "555"}, {"note": "keep"}, mapped)
    assert columns == {"email": "ada@example.com"} and custom == {"line2": "Flat 3"}
    assert old == {"email": "", "custom.line2": None}


def test_changes_record_what_they_overwrite():
    mapped = map_customer(
        CUSTOMER, mapping_validate({"phone": "phone", "metadata.plan": "custom.plan"}), contact_type="person"
    )
    columns, custom, old = changes(
        {"email": "ada@example.com", "phone": "555"}, {"plan": "silver", "other": "x"}, mapped
    )
    assert columns == {"phone": "+44 20 7946 0000"} and custom == {"plan": "gold"}
    assert old == {"phone": "555", "custom.plan": "silver"}
    _, _, same = changes({"email": "ada@example.com", "phone": "+44 20 7946 0000"}, {"plan": "gold"}, mapped)
    assert same == {}


@pytest.mark.parametrize(
    ("mappings", "named"),
    [
        ({"address.town": "address.city"}, "address.town"),
        ({"nickname": "first_name"}, "nickname"),
        ({"email": "emails"}, "email"),
        ({"phone": "address.zip"}, "phone"),
        ({"address": "phone"}, "address"),  # a whole address into a scalar
        ({"phone": "address"}, "phone"),
        ({"name": "email"}, "name"),  # the email is always the customer's
        ({"phone": "phone", "shipping.phone": "phone"}, "shipping.phone"),  # one field written twice
        ({"metadata.a;b": "custom.x"}, "metadata.a;b"),
        ({"phone": 3}, "phone"),
    ],
)
def test_unknown_or_unusable_keys_are_named(mappings, named):
    with pytest.raises(MappingInvalid) as caught:
        mapping_validate(mappings)
    assert list(caught.value.problems) == [named]


def test_an_empty_mapping_is_allowed_and_sets_the_email_only():
    assert mapping_validate({}) == {} and mapping_validate(None) == {}
    assert map_customer(CUSTOMER, {}, contact_type="person").columns == {"email": "ada@example.com"}


@pytest.mark.parametrize(
    ("customer", "reason"),
    [
        ({"id": "cus_3", "email": "not an email"}, "not an email address"),
        ({"id": "cus_3", "email": "a@b.co", "phone": "1" * 41}, "phone is longer than 40"),
        ({"id": "cus_3", "email": "a@b.co", "address": {"country": "France"}}, "two-letter country"),
        ({"email": "a@b.co"}, "no id"),
    ],
)
def test_data_a_contact_cannot_hold_is_refused_for_that_customer(customer, reason):
    with pytest.raises(CustomerInvalid, match=reason):
        map_customer(customer, mapping_validate({"phone": "phone", "address": "address"}), contact_type="person")


def test_free_mail_domains():
    assert is_free_mail("gmail.com") and is_free_mail("outlook.com")
    assert not is_free_mail("acme.com")
