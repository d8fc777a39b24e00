"""The OneBalance ledger check (the daily beat and `manage.py check_balances`): every cached balance against the sum
of its entries. Nothing is changed: a difference is logged as an error and counted for /metrics."""

import logging

from core.check_results import ONEBALANCE_LEDGER, record_check

logger = logging.getLogger(__name__)


def balances_check_record(wrong: list) -> None:
    """The result of a check (`marketplace.selectors.balance.balances_mismatched`: the balances that differ from
    their entries, each with `entries_total`), recorded and logged."""
    record_check(ONEBALANCE_LEDGER, len(wrong))
    for balance in wrong:
        logger.error(
            "OneBalance %s (account %s): cached %s != entries %s %s",
            balance.pk,
            balance.account_id,
            balance.amount,
            balance.entries_total,
            balance.currency,
        )
