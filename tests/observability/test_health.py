"""/healthz/live answers whatever the dependencies say; /healthz/ready (and /healthz, its old name) checks the
database, the broker and the webhook backlog, and tells an anonymous caller ok / failed and nothing else."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import WebhookEvent


@pytest.fixture
def broker_down(dead_redis_url):
    from billing_project.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = dead_redis_url
    yield
    app.conf.broker_url = previous


def pending_event(waited_seconds: int) -> WebhookEvent:
    return WebhookEvent.objects.create(
        stripe_event_id=f"evt_{uuid.uuid4().hex}",
        relationship="platform",
        type="customer.updated",
        created=0,
        payload={},
        received_at=timezone.now() - timedelta(seconds=waited_seconds),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz/ready", "/healthz"])
def test_ready_when_database_broker_and_backlog_are_fine(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": {"ok": True},
        "broker": {"ok": True},
        "webhook_backlog": {"ok": True},
    }


@pytest.mark.django_db
def test_live_needs_no_dependency(client, broker_down):
    assert client.get("/healthz/ready").status_code == 503
    live = client.get("/healthz/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_a_failed_check_says_failed_and_nothing_about_why(client, broker_down):
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": {"ok": True},
        "broker": {"ok": False},
        "webhook_backlog": {"ok": True},
    }
    assert b"Error" not in response.content and b"redis" not in response.content.lower()


@pytest.mark.django_db
def test_not_ready_once_the_oldest_pending_webhook_waited_too_long(client, settings):
    settings.WEBHOOK_READY_BACKLOG_SECONDS = 300
    pending_event(waited_seconds=30)
    assert client.get("/healthz/ready").status_code == 200
    old = pending_event(waited_seconds=600)
    response = client.get("/healthz/ready")
    assert response.status_code == 503 and response.json()["webhook_backlog"] == {"ok": False}
    WebhookEvent.objects.filter(pk=old.pk).update(status="processed")  # a worker got to it
    assert client.get("/healthz/ready").status_code == 200
