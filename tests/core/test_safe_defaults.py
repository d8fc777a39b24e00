"""Safe by default (issue 10, item 3): no development secret, no DEBUG, no ALLOWED_HOSTS=* unless the development
defaults are asked for; HTTPS settings on with DEBUG off; `check --deploy` clean with production-like settings."""

import json
import subprocess
import sys

import pytest

from tests.helpers.settings_process import PRODUCTION_SECRETS, ROOT, settings_env, start_settings

SHOW = """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in (
    "DEBUG", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER")} | {"JWT": s.SIMPLE_JWT["SIGNING_KEY"], "SECRET": s.SECRET_KEY}))
"""


def shown(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_set_refuses_to_start_and_names_every_missing_secret():
    result = start_settings()
    assert result.returncode != 0
    assert "not set" in result.stderr and "BILLING_DEV_DEFAULTS=1" in result.stderr
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "FIELD_ENCRYPTION_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert name in result.stderr


def test_the_jwt_signing_key_must_be_its_own():
    result = start_settings(**{**PRODUCTION_SECRETS, "JWT_SIGNING_KEY": PRODUCTION_SECRETS["SECRET_KEY"]})
    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must differ from SECRET_KEY" in result.stderr


def test_production_settings_are_https_only_with_debug_off_and_no_hosts_by_default():
    values = shown(start_settings(SHOW, **PRODUCTION_SECRETS))
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == []
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # trusted only when the environment names the proxy's header
    assert values["JWT"] == PRODUCTION_SECRETS["JWT_SIGNING_KEY"] != values["SECRET"]


def test_development_defaults_exist_only_when_asked_for_and_leave_debug_off():
    values = shown(start_settings(SHOW, BILLING_DEV_DEFAULTS="1"))
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["*"]
    assert values["SECRET"].startswith("dev-only-") and values["JWT"] == values["SECRET"]
    assert values["SECURE_SSL_REDIRECT"] is False  # tests and local runs serve plain HTTP on 127.0.0.1


REQUESTS = """
from django.test import Client
c = Client(HTTP_HOST="billing.example.com")
behind_proxy = c.get("/api/v1/nothing-here/", HTTP_X_FORWARDED_PROTO="https")
plain = c.get("/api/v1/nothing-here/")
health = c.get("/healthz")
print(behind_proxy.status_code, behind_proxy.get("Strict-Transport-Security"), behind_proxy["Content-Type"])
print(plain.status_code, plain.get("Location"))
print(health.status_code)
"""


def test_behind_a_tls_proxy_requests_are_https_with_hsts_and_plain_http_is_redirected(tmp_path):
    result = start_settings(
        REQUESTS,
        **PRODUCTION_SECRETS,
        ALLOWED_HOSTS="billing.example.com",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        BILLING_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    proxied, plain, health = result.stdout.strip().splitlines()[-3:]
    assert proxied == "404 max-age=31536000; includeSubDomains; preload application/json"
    assert plain == "301 https://billing.example.com/api/v1/nothing-here/"
    assert health != "301"  # load balancers probe /healthz over plain HTTP


def test_a_malformed_proxy_header_setting_is_refused():
    result = start_settings(**PRODUCTION_SECRETS, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be" in result.stderr


def test_check_deploy_is_clean_with_production_like_settings(tmp_path):
    """What CI runs (.ci/run): every deployment warning is a failure."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=settings_env(
            **PRODUCTION_SECRETS,
            ALLOWED_HOSTS="billing.example.com",
            BILLING_VAR_DIR=str(tmp_path),
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_catches_debug_left_on(tmp_path):
    """The same check fails the moment a deployment turns DEBUG on: the CI step can fail."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=settings_env(
            **PRODUCTION_SECRETS,
            DEBUG="1",
            ALLOWED_HOSTS="billing.example.com",
            BILLING_VAR_DIR=str(tmp_path),
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


@pytest.mark.django_db
def test_the_demo_superuser_is_refused_without_development_defaults(settings):
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ImproperlyConfigured

    from localdev.demo import ensure_demo_account

    settings.DEV_DEFAULTS = False
    with pytest.raises(ImproperlyConfigured, match="BILLING_DEV_DEFAULTS=1"):
        ensure_demo_account()
    assert not get_user_model().objects.filter(is_superuser=True).exists()
