"""Thin Celery tasks, sent by name after commit (core/queue.py); nothing imports this module."""

from celery import shared_task

from marketplace.services import fulfilment


@shared_task(name="marketplace.provision_purchase", bind=True, max_retries=5, acks_late=True)
def provision_purchase(self, purchase_id: str) -> None:
    fulfilment.purchase_provision(purchase_id=purchase_id)
