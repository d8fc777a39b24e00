"""Settings, read from the environment only. Development defaults work with nothing installed but Python."""

import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from billing_project.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BILLING_VAR_DIR", str(BASE_DIR / "var")))

# Development defaults. Production (DEBUG off) refuses to start with any of them, see the check at the end.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMDA="  # public development default
DEV_STRIPE_SECRET_KEY = "sk_test_platform_dev_key"  # the local Stripe accepts any test key
DEV_STRIPE_WEBHOOK_SECRET = "whsec_platform_dev_secret"

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "core",
    "accounts",
    "billing",
]

MIDDLEWARE = [
    "core.logcontext.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "billing_project.urls"
ASGI_APPLICATION = "billing_project.asgi.application"
WSGI_APPLICATION = "billing_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing at once,
    # and take the write lock at BEGIN so read-then-write transactions cannot deadlock on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if DATABASES["default"]["NAME"] != ":memory:":
        VAR_DIR.mkdir(parents=True, exist_ok=True)
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # One test database per checkout, so two checkouts' test runs on one server never drop each other's.
    _checkout = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_checkout}"}
    # Parameters travel apart from the SQL instead of being quoted into it by the client: quoting a webhook's
    # JSON into a multi-row insert cost more than the insert itself (docs/webhooks.md, "Intake").
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Redis: broker and channel layer. Unset means "in this process only" (tests and one-off commands);
# the development stack always sets it (to its embedded server).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-way is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task unless this is set, which
# costs a new connection per task (a large share of a webhook batch's time on PostgreSQL). With it, connections
# are closed every 2 × N tasks and, as in requests, whenever CONN_MAX_AGE or an error says so.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Stripe. The platform's own Stripe (our billing of accounts) and the address of Stripe itself.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")  # None means the real https://api.stripe.com
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", DEV_STRIPE_SECRET_KEY)
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET)
STRIPE_API_VERSION = "2025-08-27.basil"
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2)
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 30)
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
# Webhook processing (billing/webhooks/processing.py): attempts before an event becomes a dead letter, the first
# retry delay (doubled each attempt, capped), how long a worker's claim holds before it is presumed lost, and
# how long an event may wait for its Celery message before the sweeper re-enqueues it.
WEBHOOK_MAX_ATTEMPTS = 5
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 10)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600)
WEBHOOK_CLAIM_LEASE_SECONDS = env_int("WEBHOOK_CLAIM_LEASE_SECONDS", 300)
WEBHOOK_SWEEP_GRACE_SECONDS = env_int("WEBHOOK_SWEEP_GRACE_SECONDS", 120)
# A worker's batch: its message's events and other pending ones, up to this many (one claim, one commit).
WEBHOOK_BATCH_MAX = env_int("WEBHOOK_BATCH_MAX", 500)
# How long after intake stored its events a worker waits for more to join the batch (0: no wait).
WEBHOOK_BATCH_LINGER_MS = env_int("WEBHOOK_BATCH_LINGER_MS", 500)
# How long intake's doorbell stays rung without a worker answering (billing/webhooks/doorbell.py).
WEBHOOK_DOORBELL_TTL_MS = env_int("WEBHOOK_DOORBELL_TTL_MS", 5000)
# How long a process keeps an account's webhook signing secret (billing/webhooks/intake.py).
WEBHOOK_SECRET_CACHE_SECONDS = env_int("WEBHOOK_SECRET_CACHE_SECONDS", 10)
# How many deliveries a web process's ASGI intake holds waiting for the database; past it, 503 at once.
WEBHOOK_INTAKE_QUEUE_MAX = env_int("WEBHOOK_INTAKE_QUEUE_MAX", 1000)

FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY", DEV_FIELD_ENCRYPTION_KEY)
BASE_CURRENCY = (env_str("BASE_CURRENCY", "usd") or "usd").lower()
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- The sync of an account's Stripe into its mirror (billing/stripe/sync.py). A resource's task retries Stripe's
# 429 / 5xx this many times, waiting a full-jitter exponential backoff (base doubled per retry, capped, never less
# than Retry-After). A failed run's unfinished resources are resumed from their cursors by a new run within the
# resume window; a run with no progress for the stale delay no longer blocks a new one.
BILLING_SYNC_PAGE_SIZE = 100
BILLING_SYNC_MAX_RETRIES = env_int("BILLING_SYNC_MAX_RETRIES", 6)
BILLING_SYNC_RETRY_BASE_SECONDS = env_int("BILLING_SYNC_RETRY_BASE_SECONDS", 2)
BILLING_SYNC_RETRY_MAX_SECONDS = env_int("BILLING_SYNC_RETRY_MAX_SECONDS", 300)
BILLING_SYNC_RESUME_HOURS = env_int("BILLING_SYNC_RESUME_HOURS", 24)
BILLING_SYNC_STALE_MINUTES = env_int("BILLING_SYNC_STALE_MINUTES", 30)

# --- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.tenancy.IsAccountMember"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler.exception_handler",
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Billing back office API",
    "DESCRIPTION": "Accounts' own Stripe (mirror, billing) and the platform's billing of accounts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the docs work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging: one line per event, with the account and the request or task id (never a secret).
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logcontext.ContextFilter"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s [account=%(account_id)s req=%(request_id)s] %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}


def _refuse_development_secrets() -> None:
    if DEBUG:
        return
    insecure = [
        name
        for name, value, dev in (
            ("SECRET_KEY", SECRET_KEY, DEV_SECRET_KEY),
            ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY, DEV_FIELD_ENCRYPTION_KEY),
            ("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY, DEV_STRIPE_SECRET_KEY),
            ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET, DEV_STRIPE_WEBHOOK_SECRET),
        )
        if value == dev
    ]
    if insecure:
        raise ImproperlyConfigured(
            "DEBUG is off but these settings still hold their development defaults: "
            + ", ".join(insecure)
            + ". Set them in the environment."
        )


_refuse_development_secrets()
