"""Thin Celery tasks, sent by name after commit (core/queue.py); nothing imports this module."""

from celery import shared_task

from marketplace.selectors.balance import balances_mismatched
from marketplace.services import fulfilment
from marketplace.services.checks import balances_check_record


@shared_task(name="marketplace.provision_purchase", bind=True, max_retries=5, acks_late=True)
def provision_purchase(self, purchase_id: str) -> None:
    fulfilment.purchase_provision(purchase_id=purchase_id)


@shared_task(name="marketplace.requeue_provisioning")
def requeue_provisioning() -> int:
    """Fulfilled purchases whose provisioning message was lost (beat, every 5 minutes)."""
    return fulfilment.purchases_provision_requeue()


@shared_task(name="marketplace.check_balances")
def check_balances() -> int:
    """Every OneBalance against its ledger (daily beat, marketplace/migrations/0002)."""
    wrong = balances_mismatched()
    balances_check_record(wrong)
    return len(wrong)
