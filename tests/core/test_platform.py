"""The product's front door: health, API docs, admin, settings refusing unsafe production start."""

import pytest

from tests.helpers.settings_process import PRODUCTION_SECRETS, start_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client):
    from billing_project.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens there
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


@pytest.mark.django_db
def test_openapi_schema_and_docs_answer(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/auth/token/" in schema.content
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_admin_login_page_answers(client):
    assert client.get("/admin/login/").status_code == 200


def test_production_mode_refuses_development_secrets():
    """A development value copied into a deployment's environment is refused, not only a missing one."""
    result = start_settings(
        SECRET_KEY="dev-only-insecure-secret-key-do-not-use-in-production-0123456789",
        JWT_SIGNING_KEY="a-real-jwt-key-" + "y" * 40,
        FIELD_ENCRYPTION_KEY="cHJvZHVjdGlvbi1maWVsZC1lbmNyeXB0aW9uLWtleTE=",
        STRIPE_SECRET_KEY="sk_live_realkey",
        STRIPE_WEBHOOK_SECRET="whsec_platform_dev_secret",
    )
    assert result.returncode != 0
    assert "development defaults" in result.stderr
    assert "SECRET_KEY" in result.stderr and "STRIPE_WEBHOOK_SECRET" in result.stderr


def test_production_mode_starts_with_real_secrets():
    result = start_settings(**PRODUCTION_SECRETS)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.django_db
def test_the_openapi_schema_generates_without_warnings(tmp_path):
    """A view drf-spectacular cannot introspect (a queryset needing a request, an unnamed serializer) is a
    schema the SPA cannot trust: fail on the first warning."""
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/account/members/" in (tmp_path / "schema.yml").read_text()
