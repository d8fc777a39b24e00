"""Stripe's test cards and tokens that decline, and the 402 `card_error` they answer.

localstripe knows `pm_card_visa`, `pm_card_visa_chargeDeclined` and `pm_card_chargeCustomerFail` only, declines
charges on a few 3-D Secure numbers, lets the generic decline card (4000000000000002) charge, answers a decline
as an `invalid_request_error` and refuses `tok_` sources on charges. Here:
- `pm_card_chargeDeclined` (and the `...InsufficientFunds`, `...ExpiredCard`, `...IncorrectCvc`,
  `...ProcessingError` variants) exist, and their numbers decline when charged, with Stripe's `decline_code`;
  attaching them to a customer is declined too (Stripe checks a card when it is attached), as localstripe
  already does: `pm_card_chargeCustomerFail` (4000000000000341) is the card that attaches and then declines;
- `tok_visa`, `tok_mastercard`, `tok_chargeDeclined`... work as a charge's `source` (a fresh card each time, as
  Stripe makes one);
- a declined charge answers 402 `{"error": {"type": "card_error", "code": "card_declined", "decline_code",
  "message", "charge", "payment_intent"?}}`, as Stripe does from `POST /v1/payment_intents` (confirm) and
  `POST /v1/charges`.
"""

from localstripe.errors import UserError
from localstripe.resources import Charge, PaymentIntent, PaymentMethod, Token

# number -> (failure_code, decline_code, message)
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": ("processing_error", "processing_error", "An error occurred while processing your card."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
}

TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
}

# Test tokens as a charge's `source`: the payment method of the same card.
TEST_TOKENS = {
    "tok_visa": "pm_card_visa",
    "tok_mastercard": "pm_card_mastercard",
    "tok_chargeDeclined": "pm_card_chargeDeclined",
    "tok_chargeDeclinedInsufficientFunds": "pm_card_chargeDeclinedInsufficientFunds",
    "tok_chargeDeclinedExpiredCard": "pm_card_chargeDeclinedExpiredCard",
    "tok_chargeDeclinedIncorrectCvc": "pm_card_chargeDeclinedIncorrectCvc",
    "tok_chargeDeclinedProcessingError": "pm_card_chargeDeclinedProcessingError",
}


def _card_number(method) -> str | None:
    return getattr(method, "_card_number", None)


def _test_payment_method(cls, id):
    number = TEST_PAYMENT_METHODS.get(id)
    if number is None:
        return None
    method = PaymentMethod(type="card", card={"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"})
    if number.startswith("5"):
        method.card["brand"] = "mastercard"
    return method


def install() -> None:
    charging_is_declined = PaymentMethod._charging_is_declined
    create_charge = Charge._api_create.__func__
    set_auth_failure = Charge._set_auth_failure

    def declines_when_charged(self):
        return _card_number(self) in DECLINES or charging_is_declined(self)

    def charge_with_token(cls, **data):
        source = data.get("source")
        if isinstance(source, str) and source in TEST_TOKENS:
            data = {**data, "source": TEST_TOKENS[source]}
        elif isinstance(source, str) and source.startswith("tok_"):
            data = {**data, "source": Token._api_retrieve(source).card.id}
        return create_charge(cls, **data)

    def auth_failure(self):
        set_auth_failure(self)
        method = PaymentMethod._api_retrieve(self.payment_method) if self.payment_method else None
        failure_code, decline_code, message = DECLINES.get(
            _card_number(method), ("card_declined", "generic_decline", "Your card was declined.")
        )
        self.failure_code, self.failure_message = failure_code, message
        self._decline_code = decline_code
        self.outcome = {
            "network_status": "declined_by_network",
            "reason": decline_code,
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }

    def raise_failure(self):
        contents = {
            "code": self.failure_code,
            "decline_code": getattr(self, "_decline_code", "generic_decline"),
            "charge": self.id,
            "doc_url": f"https://stripe.com/docs/error-codes/{self.failure_code.replace('_', '-')}",
        }
        if self.payment_intent:
            contents["payment_intent"] = PaymentIntent._api_retrieve(self.payment_intent)._export()
        error = UserError(402, self.failure_message, contents)
        error.body["error"]["type"] = "card_error"
        raise error

    PaymentMethod._try_get_canonical_test_article = classmethod(_test_payment_method)
    PaymentMethod._charging_is_declined = declines_when_charged
    Charge._api_create = classmethod(charge_with_token)
    Charge._set_auth_failure = auth_failure
    Charge._raise_failure = raise_failure
