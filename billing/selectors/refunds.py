"""The refunds the account asked for (our RefundRequest rows): who, why, and what Stripe answered."""

from billing.models import RefundRequest


def refund_request_list(*, account):
    return RefundRequest.objects.for_account(account).select_related("requested_by")
