"""The events Stripe sends when money moves back, which localstripe never emits (it emits no `charge.*`):
`charge.refunded` (the charge, its refunds listed) after each refund, `charge.dispute.funds_withdrawn` when a
dispute opens and `charge.dispute.funds_reinstated` when it is won. Metering claws back credit packs on them
(docs/metering.md); they reach the endpoints registered for the objects' owner, as every event here does."""

from localstripe.resources import Charge, Refund

from localdev.fake_stripe import events
from localdev.fake_stripe.disputes import Dispute


def install() -> None:
    """After refunds.install() (it wraps the guarded create)."""
    create_refund = Refund._api_create.__func__

    def create_and_announce(cls, **data):
        refund = create_refund(cls, **data)
        charge = Charge._api_retrieve(refund.charge)
        events.emit("charge.refunded", charge)
        return refund

    Refund._api_create = classmethod(create_and_announce)

    open_dispute = Dispute.__init__
    close_dispute = Dispute._close

    def withdraw_once(dispute) -> None:
        if not getattr(dispute, "_funds_withdrawn_announced", False):
            dispute._funds_withdrawn_announced = True
            events.emit("charge.dispute.funds_withdrawn", dispute)

    def open_and_withdraw(self, *args, **kwargs):
        open_dispute(self, *args, **kwargs)
        withdraw_once(self)

    def close_and_reinstate(self, status: str) -> None:
        close_dispute(self, status)
        withdraw_once(self)  # a dispute opened as already closed: its funds left before they came back
        if status == "won":
            events.emit("charge.dispute.funds_reinstated", self)

    Dispute.__init__ = open_and_withdraw
    Dispute._close = close_and_reinstate
