"""A SetupIntent that succeeds saves its card on its customer, as Stripe does.

localstripe's SetupIntent confirm only records the payment method on the intent: the card never reaches the
customer, so a card saved through Stripe.js's `confirmCardSetup` would not be listed or chargeable. Here a
successful confirm attaches the method to the intent's customer (declined attachments are still declined by
localstripe before this runs)."""

from localstripe.resources import PaymentMethod, SetupIntent


def install() -> None:
    attach_to_intent = SetupIntent._attach_pm

    def attach_and_save(self, pm):
        attach_to_intent(self, pm)
        if self.status == "succeeded" and self.customer and getattr(pm, "customer", None) != self.customer:
            PaymentMethod._api_attach(pm.id, customer=self.customer)

    SetupIntent._attach_pm = attach_and_save
