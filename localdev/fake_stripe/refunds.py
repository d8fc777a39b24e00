"""Refunds within what is left on the charge, as real Stripe.

localstripe accepts any refund amount (a charge can end up refunding more than it took) and a refund without an
amount always refunds the whole charge, even a partly refunded one. The check runs inside localstripe's
`Refund._api_create`, synchronously with the creation, so two refunds racing on the event loop cannot both pass
it. localstripe has no charge-scoped refund route (`/v1/charges/<id>/refund[s]`), so `/v1/refunds` is the only
way in. localstripe refuses Stripe's `reason` parameter ("Unexpected reason"): it is checked against Stripe's
values here and kept on the refund (null when none was given, as Stripe shows it).
"""

from localstripe.resources import Charge, PaymentIntent, Refund, try_convert_to_int

from localdev.fake_stripe.errors import invalid_request

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _refunded_charge(data: dict) -> Charge | None:
    charge, payment_intent = data.get("charge"), data.get("payment_intent")
    if isinstance(charge, str) and charge.startswith("ch_"):
        return Charge._api_retrieve(charge)
    if isinstance(payment_intent, str) and payment_intent.startswith("pi_"):
        latest = PaymentIntent._api_retrieve(payment_intent).latest_charge
        if latest is None:
            raise invalid_request(
                f"PaymentIntent {payment_intent} does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        return latest
    return None  # malformed: localstripe answers it


def _guarded(data: dict) -> dict:
    charge = _refunded_charge(data)
    if charge is None:
        return data
    left = charge.amount - charge.amount_refunded
    if left <= 0:
        raise invalid_request(f"Charge {charge.id} has already been refunded.", code="charge_already_refunded")
    amount = try_convert_to_int(data.get("amount"))
    if amount is None:
        return {**data, "amount": left}
    if isinstance(amount, int) and amount > left:
        raise invalid_request(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}), in the smallest "
            f"currency unit of {charge.currency}.",
            code="amount_too_large",
            param="amount",
        )
    return data


def install() -> None:
    create_refund = Refund._api_create.__func__

    def guarded_create(cls, **data):
        reason = data.pop("reason", None) or None
        if reason is not None and reason not in REASONS:
            raise invalid_request(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", param="reason"
            )
        refund = create_refund(cls, **_guarded(data))
        refund.reason = reason
        return refund

    Refund._api_create = classmethod(guarded_create)
