"""Stripe customer → contact fields: pure functions, no ORM (SPEC §6).

A mapping is {stripe path: contact field}. Keys are read with dots or hyphens alike (`address-city` is
`address.city`, as the seed's SPA sends them). Stripe's address words become the contact's: `line1` is `street`
(with `line2` after it), `state` is `state_province`; the contact's words are accepted on the Stripe side too
(`address.street` reads `address.line1`). A whole address (`address`, `shipping.address` or `shipping`) maps to a
whole contact address (`address`, `shipping`). `metadata.<key>` reads a Stripe metadata value; `custom.<key>`
writes a custom field of the contact. `name` as a contact field is the person's first and last name (split at
the last space) or, for a business, its business name.

The customer's email is the contact's email, always (it is the match key); `id` is `stripe_customer_id`. A value
Stripe does not have (missing, null, empty) never erases what the contact has."""

import re
from dataclasses import dataclass, field

ADDRESS_PARTS = ("street", "city", "state_province", "postal_code", "country")
# Stripe's word → the contact's word, and back.
STRIPE_TO_CONTACT_PART = {
    "line1": "street",
    "city": "city",
    "state": "state_province",
    "postal_code": "postal_code",
    "country": "country",
}
CONTACT_TO_STRIPE_PART = {contact: stripe for stripe, contact in STRIPE_TO_CONTACT_PART.items()}
STRIPE_ADDRESS_PARTS = ("line1", "line2", "city", "state", "postal_code", "country")

STRIPE_SCALARS = ("email", "name", "phone", "description", "currency", "tax_exempt", "preferred_locales")
STRIPE_ADDRESSES = ("address", "shipping.address")
STRIPE_SHIPPING_SCALARS = ("shipping.name", "shipping.phone")

# Contact fields a mapping may write (dotted, as the API and the SPA name them) → the model's column.
CONTACT_SCALARS = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "business_name": "business_name",
    "phone": "phone",
    **{f"address.{part}": f"address_{part}" for part in ADDRESS_PARTS},
    **{f"shipping.{part}": f"shipping_{part}" for part in ADDRESS_PARTS},
}
CONTACT_WHOLE = ("address", "shipping")  # a whole address
CONTACT_NAME = "name"  # first + last (person) or business name (business)
CUSTOM_PREFIX = "custom."
METADATA_PREFIX = "metadata."
KEY_PART = re.compile(r"[A-Za-z0-9_ ]{1,40}")
# What an email must look like to be a contact's (Stripe accepts nearly anything): one "@", no spaces, a dotted
# domain. Cheaper than Django's validate_email, which costs more than the rest of a customer's mapping.
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

# The widest value each column holds (contacts_import/models/contact.py): longer is an error for that customer.
MAX_LENGTHS = {
    "email": 254,
    "first_name": 150,
    "last_name": 150,
    "business_name": 255,
    "phone": 40,
    **{f"{kind}_street": 500 for kind in CONTACT_WHOLE},
    **{f"{kind}_city": 200 for kind in CONTACT_WHOLE},
    **{f"{kind}_state_province": 200 for kind in CONTACT_WHOLE},
    **{f"{kind}_postal_code": 40 for kind in CONTACT_WHOLE},
    **{f"{kind}_country": 2 for kind in CONTACT_WHOLE},
}
CUSTOM_VALUE_MAX = 500

# Free-mail domains: a business import never takes two addresses there for one company.
FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de ymail.com rocketmail.com hotmail.com
    hotmail.co.uk hotmail.fr hotmail.de outlook.com outlook.fr live.com live.co.uk msn.com aol.com icloud.com me.com
    mac.com proton.me protonmail.com pm.me gmx.com gmx.de gmx.net web.de mail.com yandex.com yandex.ru mail.ru
    zoho.com zohomail.com qq.com 163.com 126.com fastmail.com hey.com tutanota.com tuta.io hushmail.com
    comcast.net verizon.net att.net sbcglobal.net btinternet.com orange.fr free.fr laposte.net libero.it
    """.split()
)


class MappingInvalid(ValueError):
    """The mapping cannot be used: `problems` is {key as sent: reason}, for a 400 that names each key."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in problems.items()))
        self.problems = problems


class CustomerInvalid(ValueError):
    """This customer cannot become a contact (the reason is recorded on the job; the import goes on)."""


def normalise_key(key: str) -> str:
    return key.strip().replace("-", ".")


def _stripe_path_valid(path: str) -> bool:
    if path in STRIPE_SCALARS or path in STRIPE_ADDRESSES or path in STRIPE_SHIPPING_SCALARS or path == "shipping":
        return True
    if path.startswith(METADATA_PREFIX):
        return bool(KEY_PART.fullmatch(path[len(METADATA_PREFIX) :]))
    for prefix in STRIPE_ADDRESSES:
        if path.startswith(prefix + "."):
            part = path[len(prefix) + 1 :]
            return part in STRIPE_ADDRESS_PARTS or part in CONTACT_TO_STRIPE_PART
    return False


def _is_whole_address(path: str) -> bool:
    return path in STRIPE_ADDRESSES or path == "shipping"


def _contact_field_valid(target: str) -> bool:
    if target in CONTACT_SCALARS or target in CONTACT_WHOLE or target == CONTACT_NAME:
        return True
    if target.startswith(CUSTOM_PREFIX):
        return bool(KEY_PART.fullmatch(target[len(CUSTOM_PREFIX) :]))
    return False


def mapping_validate(mappings) -> dict[str, str]:
    """The mapping, normalised ({stripe path: contact field}, dotted), or MappingInvalid naming every bad key.
    An empty mapping is allowed: an import then links contacts to their Stripe customer and sets emails only."""
    if mappings is None:
        return {}
    if not isinstance(mappings, dict):
        raise MappingInvalid({"mappings": "An object: {stripe field: contact field}."})
    normalised: dict[str, str] = {}
    problems: dict[str, str] = {}
    targets: dict[str, str] = {}
    for raw_key, raw_target in mappings.items():
        if not isinstance(raw_target, str):
            problems[raw_key] = "The contact field must be a string."
            continue
        path, target = normalise_key(raw_key), normalise_key(raw_target)
        if not _stripe_path_valid(path):
            problems[raw_key] = f"Unknown Stripe customer field {raw_key!r}."
            continue
        if not _contact_field_valid(target):
            problems[raw_key] = f"Unknown contact field {raw_target!r}."
            continue
        if _is_whole_address(path) != (target in CONTACT_WHOLE):
            problems[raw_key] = "A whole address maps only to a whole address (address or shipping)."
            continue
        if target == "email" and path != "email":
            problems[raw_key] = "A contact's email is always the customer's email."
            continue
        if path in normalised:
            problems[raw_key] = f"{path!r} is mapped twice."
            continue
        if target in targets and target != "email":
            problems[raw_key] = f"Contact field {target!r} is already mapped from {targets[target]!r}."
            continue
        normalised[path] = target
        targets[target] = path
    if problems:
        raise MappingInvalid(problems)
    return normalised


def stripe_value(customer: dict, path: str):
    """The customer's value at a dotted path; None when any step is missing. `street` and `state_province` read
    Stripe's `line1` and `state`; `line1` is returned with `line2` after it."""
    head, _, last = path.rpartition(".")
    node = customer
    for step in head.split(".") if head else ():
        node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return None
    if not isinstance(node, dict):
        return None
    if head in STRIPE_ADDRESSES:
        last = CONTACT_TO_STRIPE_PART.get(last, last)
        if last == "line1":
            return _street(node)
    return node.get(last)


def _street(address: dict) -> str | None:
    lines = [str(address.get(part) or "").strip() for part in ("line1", "line2")]
    return ", ".join(line for line in lines if line) or None


def _address_of(customer: dict, path: str) -> dict | None:
    if path == "shipping":
        path = "shipping.address"
    head, _, last = path.partition(".")
    node = customer.get(head)
    if last:
        node = node.get("address") if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # preferred_locales
        value = ", ".join(str(item) for item in value)
    text = str(value).strip()
    return text or None


@dataclass
class Mapped:
    """A customer as contact values: `columns` {model column: value}, `custom` {custom field: value}. Only values
    Stripe has are present."""

    stripe_customer_id: str
    email: str
    columns: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def email_domain(self) -> str:
        return email_domain(self.email)


def email_normalise(value) -> str:
    return (_text(value) or "").lower()


def email_domain(email: str) -> str:
    return email.rpartition("@")[2] if "@" in email else ""


def is_free_mail(domain: str) -> bool:
    return domain in FREE_MAIL_DOMAINS


def map_customer(customer: dict, mappings: dict[str, str], *, contact_type: str) -> Mapped:
    """The contact values of one Stripe customer under a validated mapping. Raises CustomerInvalid for data a
    contact cannot hold (a malformed email, a value too long for its field, a country that is not 2 letters)."""
    customer_id = customer.get("id")
    if not isinstance(customer_id, str) or not customer_id:
        raise CustomerInvalid("The customer has no id.")
    email = email_normalise(customer.get("email"))
    if email and not EMAIL.fullmatch(email):
        raise CustomerInvalid(f"{email!r} is not an email address.")
    mapped = Mapped(stripe_customer_id=customer_id, email=email)
    if email:
        mapped.columns["email"] = email
    for path, target in mappings.items():
        if target in CONTACT_WHOLE:
            address = _address_of(customer, path)
            if address is None:
                continue
            for stripe_part, contact_part in STRIPE_TO_CONTACT_PART.items():
                value = _street(address) if stripe_part == "line1" else _text(address.get(stripe_part))
                if value:
                    mapped.columns[f"{target}_{contact_part}"] = value
            continue
        value = _text(stripe_value(customer, path))
        if value is None:
            continue
        if target == "email":
            continue  # already the customer's email
        if target == CONTACT_NAME:
            if contact_type == "business":
                mapped.columns["business_name"] = value
            else:
                first, _, last = value.rpartition(" ")
                mapped.columns["first_name"], mapped.columns["last_name"] = (first, last) if first else (last, "")
                if not mapped.columns["last_name"]:
                    del mapped.columns["last_name"]
        elif target.startswith(CUSTOM_PREFIX):
            mapped.custom[target[len(CUSTOM_PREFIX) :]] = value
        else:
            mapped.columns[CONTACT_SCALARS[target]] = value
    _check(mapped)
    return mapped


def _check(mapped: Mapped) -> None:
    for column, value in mapped.columns.items():
        if column.endswith("_country"):
            if not (len(value) == 2 and value.isalpha()):
                raise CustomerInvalid(f"{column} {value!r} is not a two-letter country code.")
            mapped.columns[column] = value.upper()
        limit = MAX_LENGTHS[column]
        if len(value) > limit:
            raise CustomerInvalid(f"{column} is longer than {limit} characters.")
    for key, value in mapped.custom.items():
        if len(value) > CUSTOM_VALUE_MAX:
            raise CustomerInvalid(f"custom field {key} is longer than {CUSTOM_VALUE_MAX} characters.")


def changes(current: dict[str, str], current_custom: dict, mapped: Mapped, *, keep_email: bool = False):
    """What writing `mapped` over a contact changes: ({column: new}, {custom key: new}, {field: old value}).
    `keep_email`: the contact's email stays (a business matched by its domain keeps the company's address)."""
    new_columns: dict[str, str] = {}
    new_custom: dict[str, str] = {}
    old: dict[str, str] = {}
    for column, value in mapped.columns.items():
        if column == "email" and keep_email:
            continue
        if current.get(column, "") != value:
            new_columns[column] = value
            old[column] = current.get(column, "")
    for key, value in mapped.custom.items():
        if current_custom.get(key) != value:
            new_custom[key] = value
            old[CUSTOM_PREFIX + key] = current_custom.get(key)
    return new_columns, new_custom, old
