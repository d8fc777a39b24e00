"""Detaching a payment method clears it as its customer's default, as Stripe does.

localstripe's detach only unsets the method's `customer`, leaving the customer's
`invoice_settings.default_payment_method` pointing at a card it no longer has. Its route is bound at import, so
the handler here takes it over (replaced_routes.py)."""

from aiohttp import web
from localstripe.resources import Customer, PaymentMethod
from localstripe.server import get_post_data, json_response

from localdev.fake_stripe import replaced_routes


async def detach(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    method_id = request.match_info["id"]
    customer_id = getattr(PaymentMethod._api_retrieve(method_id), "customer", None)
    method = PaymentMethod._api_detach(method_id, **data)
    if customer_id:
        customer = Customer._api_retrieve(customer_id)
        settings = customer.invoice_settings or {}
        if settings.get("default_payment_method") == method_id:
            customer.invoice_settings = {**settings, "default_payment_method": None}
    return json_response(method._export())


def install(app: web.Application) -> None:
    replaced_routes.replace("POST", "/v1/payment_methods/{id}/detach", detach)
