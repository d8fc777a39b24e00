"""Products updated and deleted as real Stripe does (installed by prices.install: the catalogue is one piece).

localstripe's generic update stores form values as sent (`active=false` becomes the string "false", which reads
as true), keeps a metadata key sent empty instead of removing it, accepts an empty name, and deletes a product
whatever prices it has. Real Stripe reads booleans, removes a key sent empty, refuses to unset the name, and
refuses to delete a product that has prices (archive it instead).
"""

from localstripe.resources import Plan, Product, StripeObject, try_convert_to_bool

from localdev.fake_stripe.errors import invalid_request, unknown_parameter
from localdev.fake_stripe.prices import Price, merged_metadata

UPDATABLE = ("active", "name", "description", "metadata", "url", "statement_descriptor")


def _update(self, **data):
    # Everything is checked before anything changes, so a refused update leaves the product as it was.
    for name in data:
        if name not in UPDATABLE:
            raise unknown_parameter(name)
    active = try_convert_to_bool(data.get("active", self.active))
    if not isinstance(active, bool):
        raise invalid_request("Invalid boolean", param="active")
    name = data.get("name", self.name)
    if not isinstance(name, str) or not name:
        raise invalid_request(
            "You passed an empty string for 'name'. We assume empty values are an attempt to unset a parameter; "
            "however 'name' cannot be unset. You should remove 'name' from your request or supply a non-empty "
            "value.",
            param="name",
        )
    unset = {key: (data[key] or None) for key in ("description", "url", "statement_descriptor") if key in data}
    metadata = merged_metadata(self.metadata or {}, data["metadata"]) if "metadata" in data else self.metadata

    self.active, self.name, self.metadata = active, name, metadata
    for key, value in unset.items():
        setattr(self, key, value)


def _api_delete(cls, id):
    product = cls._api_retrieve(id)  # 404 when absent or another account's
    has_prices = Price._api_list_all(None, product=product.id)._list or [
        plan for plan in Plan._api_list_all(None)._list if plan.product == product.id
    ]
    if has_prices:
        raise invalid_request("This product cannot be deleted because it has one or more user-created prices.")
    return StripeObject._api_delete.__func__(cls, id)  # the base's, as isolation.py wrapped it


def install() -> None:
    Product._update = _update
    Product._api_delete = classmethod(_api_delete)
