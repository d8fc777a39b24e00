"""A minimal Django project around dj-stripe 2.11, the peer the webhook benchmark compares against. It runs in
its own virtualenv (dj-stripe 2.11 needs stripe 15.x; the project uses 16.x) and imports nothing of ours."""

import os

import dj_database_url
import stripe

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-djstripe-peer-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djstripe"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.djstripe_peer.urls"
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The same SQLite settings as the project's, so the comparison is of the code, not of the database setup.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# dj-stripe validates the key's format (sk_test_ + a long tail) and asks Stripe for /v1/account while processing.
STRIPE_LIVE_MODE = False
STRIPE_TEST_SECRET_KEY = os.environ["STRIPE_TEST_SECRET_KEY"]
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
stripe.api_base = os.environ["STRIPE_API_BASE"]  # the local Stripe

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "ERROR")},
    "loggers": {"django.request": {"level": "CRITICAL"}, "djstripe": {"level": "CRITICAL"}},
}
