"""Auth throttles: per username (or user) and per IP, 429 with Retry-After in the error shape, counters in the
shared cache (Redis when there is one)."""

import json
import os
import subprocess
import sys

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def login(username, password, client=None, **extra):
    client = client or APIClient()
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "throttled" and error["message"]


def test_twenty_wrong_passwords_are_throttled_and_the_right_one_waits_too(owner, account):
    statuses = [login(owner.username, f"guess-{n}").status_code for n in range(20)]
    assert statuses[:10] == [401] * 10  # AUTH_THROTTLE_PER_USERNAME: 10/minute
    assert statuses[10:] == [429] * 10
    assert_throttled(login(owner.username, "guess-20"))
    # The right password does not get through the window either: a guesser cannot tell which guess was right.
    assert_throttled(login(owner.username, PASSWORD))
    # Another username from the same IP is not affected (its own count; the IP's is 60/minute).
    other = UserFactory(password=PASSWORD)
    assert login(other.username, "wrong").status_code == 401


def test_the_username_count_ignores_case(owner, settings):
    settings.AUTH_THROTTLE_PER_USERNAME = "3/minute"
    for variant in (owner.username, owner.username.upper(), owner.username.title()):
        assert login(variant, "wrong").status_code == 401
    assert_throttled(login(owner.username.upper(), "wrong"))


def test_many_usernames_from_one_ip_are_throttled_and_x_forwarded_for_does_not_escape(db, settings):
    settings.AUTH_THROTTLE_PER_IP = "5/minute"
    for n in range(5):
        response = login(f"nobody-{n}", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        assert response.status_code == 401
    # NUM_PROXIES=0: a client-sent X-Forwarded-For is not the client's IP.
    assert_throttled(login("nobody-5", "wrong", HTTP_X_FORWARDED_FOR="10.0.0.99"))
    # Another IP has its own count.
    assert login("nobody-6", "wrong", REMOTE_ADDR="192.0.2.7").status_code == 401


def test_refresh_is_throttled_per_user(owner, account, settings):
    settings.AUTH_THROTTLE_PER_USERNAME = "3/minute"
    refresh = login(owner.username, PASSWORD).json()["refresh"]
    client = APIClient()
    for _ in range(3):
        response = client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
        assert response.status_code == 200, response.content
        refresh = response.json()["refresh"]
    assert_throttled(client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json"))


def test_password_change_is_throttled_per_user(api, settings):
    settings.AUTH_THROTTLE_PER_USERNAME = "3/minute"
    body = {"old_password": "wrong", "new_password": "a-brand-new-passphrase"}
    for _ in range(3):
        assert api.post("/api/v1/auth/password/", body, format="json").status_code == 400
    assert_throttled(api.post("/api/v1/auth/password/", body, format="json"))


def test_admin_login_is_throttled(owner, client):
    owner.is_staff = True
    owner.save()
    for n in range(10):
        response = client.post("/admin/login/", {"username": owner.username, "password": f"guess-{n}"})
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/admin/login/", {"username": owner.username, "password": PASSWORD})
    assert_throttled(response)
    assert client.get("/admin/login/").status_code == 200  # showing the form is not an attempt


def test_counters_are_shared_across_processes_through_redis(owner, settings, redis_url):
    """Two web processes share one count: the attempts made here throttle the same username in another process."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    for n in range(10):
        assert login(owner.username, f"guess-{n}").status_code == 401
    other_process = (
        "import json, sys, django; django.setup();"
        "from django.conf import settings; settings.CACHES = json.loads(sys.argv[1]);"
        "from django.test import Client;"
        "r = Client().post('/api/v1/auth/token/', {'username': sys.argv[2], 'password': 'x'},"
        " content_type='application/json');"
        "print(r.status_code, r.get('Retry-After'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "billing_project.settings"}
    result = subprocess.run(
        [sys.executable, "-c", other_process, json.dumps(settings.CACHES), owner.username],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    status, retry_after = result.stdout.split()[-2:]
    assert status == "429" and int(retry_after) > 0
