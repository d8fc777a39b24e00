"""Settings, read from the environment only. Development defaults work with nothing installed but Python."""

import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from billing_project.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BILLING_VAR_DIR", str(BASE_DIR / "var")))

# Development defaults exist only when asked for: BILLING_DEV_DEFAULTS=1, which the development stack
# (localdev/stack.py) and the test settings (tests/settings.py) set. Without it every secret must come from the
# environment and the app refuses to start (see the check at the end): a deployment that forgot one must not run on
# a key published in this repository.
DEV_DEFAULTS = env_bool("BILLING_DEV_DEFAULTS", False)
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMDA="  # public development default
DEV_STRIPE_SECRET_KEY = "sk_test_platform_dev_key"  # the local Stripe accepts any test key
DEV_STRIPE_WEBHOOK_SECRET = "whsec_platform_dev_secret"


def _dev_default(value: str) -> str | None:
    return value if DEV_DEFAULTS else None


# Off unless asked for: the debug pages list every URL pattern and settings to whoever triggers them.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", _dev_default(DEV_SECRET_KEY))
# Tokens are signed with a key of their own, so rotating one (sessions, password resets) does not rotate the other.
JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY", _dev_default(SECRET_KEY))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if DEV_DEFAULTS else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS. With DEBUG off the cookies are HTTPS-only and browsers are told to keep to HTTPS (HSTS; sent only on
# HTTPS responses). Plain HTTP is redirected unless the development defaults are on (tests and local runs serve
# plain HTTP on 127.0.0.1), except /healthz, which load balancers probe over HTTP.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not DEV_DEFAULTS)
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$"]
# Behind a proxy that terminates TLS: the header it sets and the value meaning HTTPS, e.g.
# "HTTP_X_FORWARDED_PROTO,https". Unset by default: trusting a header the proxy does not overwrite lets any client
# claim HTTPS.
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        'SECURE_PROXY_SSL_HEADER must be "<META name>,<value>", e.g. "HTTP_X_FORWARDED_PROTO,https"'
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "core",
    "accounts",
    "billing",
    "plans",
    "metering",
    "marketplace",
    "contacts_import",
]

MIDDLEWARE = [
    "core.request_metrics.RequestMetricsMiddleware",  # first: its latency covers every other middleware
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
# Where `collectstatic` gathers the admin's and the API docs' files; web processes serve them from here
# (billing_project/asgi.py, servestatic; docs/deploy.md).
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Production: hashed names (cached for ever by browsers) and gzip/brotli copies, written by `collectstatic`; a page
# naming a file that `collectstatic` did not gather is an error rather than a silently unstyled page. The
# development defaults (tests, the development stack) keep Django's plain storage: they render admin pages without
# running `collectstatic`, where the manifest would have no entry (ValueError) for any file.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEV_DEFAULTS
        else "servestatic.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Redis: broker and channel layer. Unset means "in this process only" (tests and one-off commands);
# the development stack always sets it (to its embedded server).
REDIS_URL = env_str("REDIS_URL")
# The channel layer's Redis connections, timed on purpose. Each websocket's consumer waits for its next event with a
# blocking BZPOPMIN of 5 s (channels_redis's RedisChannelLayer.brpop_timeout), in a loop. redis-py 8 gives every
# connection a 5 s socket read timeout by default (redis._defaults.DEFAULT_SOCKET_TIMEOUT): the client
# gave up on the blocking read just as the server was about to answer "nothing yet", raised TimeoutError, and daphne
# closed every idle websocket with 1011 after 5-10 s. The read timeout must outlast the blocking pop (30 s >> 5 s)
# while still bounding how long a Redis that stopped answering can hold a read; connecting stays short, and TCP
# keepalive notices a peer that vanished. tests/accounts/test_websocket_idle.py keeps a socket idle past 15 s.
CHANNEL_LAYER_REDIS_OPTIONS = {"socket_connect_timeout": 5, "socket_timeout": 30, "socket_keepalive": True}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, **CHANNEL_LAYER_REDIS_OPTIONS}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Cache: the auth throttles' counters and the websocket tickets. They must be shared by every web process, so
# Redis whenever there is one; in-process memory otherwise (one-off commands, tests without REDIS_URL).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cache",
            # A login must not hang on a stalled Redis: the throttles give up after this and let the request through.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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
# Queues by kind of work, so that a large initial sync never holds up webhook processing: a worker consumes
# every queue unless told otherwise (`-Q`); production can give `webhooks` workers of its own. Tasks are routed
# by their explicit names (billing/tasks.py); anything unrouted goes to `default`. Later apps add theirs
# (`imports`, `metering`) here.
CELERY_TASK_QUEUES = [Queue("webhooks"), Queue("sync"), Queue("imports"), Queue("default"), Queue("metering")]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "billing.process_webhook_events": {"queue": "webhooks"},
    "billing.process_webhook_event": {"queue": "webhooks"},
    "billing.sweep_webhook_events": {"queue": "webhooks"},
    "billing.backfill_webhook_events": {"queue": "webhooks"},
    "billing.backfill_webhook_source": {"queue": "webhooks"},
    "billing.replay_webhook_event": {"queue": "webhooks"},
    "billing.sync_resource": {"queue": "sync"},
    "billing.sweep_sync_runs": {"queue": "default"},
    # Metering's weekly reset and daily sweeps (metering/tasks.py) on a queue of their own.
    "metering.reset_due_weeks": {"queue": "metering"},
    "metering.expire_topups": {"queue": "metering"},
    "metering.check_weeks": {"queue": "metering"},
    "metering.check_ledger": {"queue": "metering"},
    "marketplace.check_balances": {"queue": "default"},
    "marketplace.requeue_provisioning": {"queue": "default"},
    "marketplace.provision_purchase": {"queue": "default"},
    "contacts_import.run_import_job": {"queue": "imports"},
    "contacts_import.sweep_import_jobs": {"queue": "imports"},
    "plans.sync_checkout_subscription": {"queue": "webhooks"},
    "plans.run_dunning": {"queue": "default"},
    "plans.run_reconciliation": {"queue": "default"},
    "plans.force_sync_divergence": {"queue": "default"},
    "plans.resync_account_subscription": {"queue": "default"},
}
# Time limits (seconds). The soft limit raises SoftTimeLimitExceeded inside the task, whose own failure path
# records it (a webhook handler's failure is retried; a sync resource goes on from its cursor); the hard limit
# kills the process. A sync task hands its resource over after BILLING_SYNC_SLICE_SECONDS (below), well
# within its limits.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_TASK_ANNOTATIONS = {
    "billing.sync_resource": {
        "soft_time_limit": env_int("BILLING_SYNC_TASK_SOFT_TIME_LIMIT", 300),
        "time_limit": env_int("BILLING_SYNC_TASK_TIME_LIMIT", 360),
    }
}
# Contact imports (contacts_import/services/run.py, docs/contacts-import.md): a run hands over to a new message
# after SLICE seconds of pages; a running job whose heartbeat is older than STALE seconds lost its worker and is
# taken over from its cursor; Stripe failures are retried with the one backoff, at most MAX_RETRIES in a row.
CONTACTS_IMPORT_SLICE_SECONDS = env_int("CONTACTS_IMPORT_SLICE_SECONDS", 60)
CONTACTS_IMPORT_STALE_SECONDS = env_int("CONTACTS_IMPORT_STALE_SECONDS", 300)
CONTACTS_IMPORT_MAX_RETRIES = env_int("CONTACTS_IMPORT_MAX_RETRIES", 8)
CONTACTS_IMPORT_RETRY_BASE_SECONDS = env_int("CONTACTS_IMPORT_RETRY_BASE_SECONDS", 2)
CONTACTS_IMPORT_RETRY_MAX_SECONDS = env_int("CONTACTS_IMPORT_RETRY_MAX_SECONDS", 300)
# django-celery-beat's DatabaseScheduler holding a lock in the broker's Redis (core/beat_scheduler.py): however many
# beats run, one sends the schedule; the others stand by and take over within BEAT_LOCK_TTL_SECONDS of its death.
CELERY_BEAT_SCHEDULER = "core.beat_scheduler:SingletonDatabaseScheduler"
BEAT_LOCK_TTL_SECONDS = env_int("BEAT_LOCK_TTL_SECONDS", 30)
BEAT_LOCK_KEY = env_str("BEAT_LOCK_KEY", "billing:beat:lock")
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Stripe. The platform's own Stripe (our billing of accounts) and the address of Stripe itself.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")  # None means the real https://api.stripe.com
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", _dev_default(DEV_STRIPE_SECRET_KEY))
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", _dev_default(DEV_STRIPE_WEBHOOK_SECRET))
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
# The Events API backfill (billing/webhooks/backfill.py): hourly, each source read back from where it was last
# checked less this overlap, never more than this many days back (Stripe keeps events 30 days).
WEBHOOK_BACKFILL_OVERLAP_SECONDS = env_int("WEBHOOK_BACKFILL_OVERLAP_SECONDS", 3600)
WEBHOOK_BACKFILL_MAX_DAYS = env_int("WEBHOOK_BACKFILL_MAX_DAYS", 30)
# A worker's batch: its message's events and other pending ones, up to this many (one claim, one commit).
WEBHOOK_BATCH_MAX = env_int("WEBHOOK_BATCH_MAX", 500)
# SQLite only (one write lock for the database, which intake waits for): a batch is handled this many events per
# transaction, so that a delivery never waits long behind a worker (billing/webhooks/processing.py). 0: one.
WEBHOOK_SQLITE_WRITE_CHUNK = env_int("WEBHOOK_SQLITE_WRITE_CHUNK", 25)
# How long after intake stored its events a worker waits for more to join the batch (0: no wait).
WEBHOOK_BATCH_LINGER_MS = env_int("WEBHOOK_BATCH_LINGER_MS", 500)
# How long intake's doorbell stays rung without a worker answering (billing/webhooks/doorbell.py).
WEBHOOK_DOORBELL_TTL_MS = env_int("WEBHOOK_DOORBELL_TTL_MS", 5000)
# Intake's doorbell with Redis unavailable: each call gives up after this long (no retries), and a failure makes
# it skip Redis for this many seconds (the sweeper enqueues the events meanwhile).
WEBHOOK_DOORBELL_TIMEOUT_MS = env_int("WEBHOOK_DOORBELL_TIMEOUT_MS", 250)
WEBHOOK_DOORBELL_BREAKER_SECONDS = env_int("WEBHOOK_DOORBELL_BREAKER_SECONDS", 5)
# How long a process keeps an account's webhook signing secret (billing/webhooks/intake.py).
WEBHOOK_SECRET_CACHE_SECONDS = env_int("WEBHOOK_SECRET_CACHE_SECONDS", 10)
# How many deliveries a web process's ASGI intake holds waiting for the database; past it, 503 at once.
WEBHOOK_INTAKE_QUEUE_MAX = env_int("WEBHOOK_INTAKE_QUEUE_MAX", 1000)
# /healthz/ready fails (503) once the oldest pending webhook event has waited this long for a worker.
WEBHOOK_READY_BACKLOG_SECONDS = env_int("WEBHOOK_READY_BACKLOG_SECONDS", 300)

FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY", _dev_default(DEV_FIELD_ENCRYPTION_KEY))
BASE_CURRENCY = (env_str("BASE_CURRENCY", "usd") or "usd").lower()
# Where OneBalance top-ups take their exchange rate (marketplace/rates.py): a dotted path to `(currency) -> Quote`;
# the default reads the ExchangeRate table staff maintain. Never a fetch at request time.
# A fulfilled purchase not provisioned this long after its fulfilment has its provisioning queued again (its message
# lived only in Redis): beat row `marketplace: requeue provisioning`, every 5 minutes.
MARKETPLACE_PROVISION_GRACE_SECONDS = env_int("MARKETPLACE_PROVISION_GRACE_SECONDS", 300)
MARKETPLACE_RATE_SOURCE = env_str("MARKETPLACE_RATE_SOURCE", "marketplace.rates.table_rate")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- Our billing of accounts (plans/). Every account is on the default plan until it subscribes to another; the
# default plan needs no Stripe and is created by plans' migration (and on first need).
PLANS_DEFAULT_SLUG = env_str("PLANS_DEFAULT_SLUG", "free") or "free"
PLANS_DEFAULT_NAME = env_str("PLANS_DEFAULT_NAME", "Free") or "Free"
PLANS_DEFAULT_WEEKLY_QUOTA = env_int("PLANS_DEFAULT_WEEKLY_QUOTA", 1000)
# Where Stripe Checkout sends the account's user back (the SPA's pages); `{CHECKOUT_SESSION_ID}` is Stripe's.
PLANS_CHECKOUT_SUCCESS_URL = env_str(
    "PLANS_CHECKOUT_SUCCESS_URL", f"{PUBLIC_BASE_URL}/billing/plan?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
)
PLANS_CHECKOUT_CANCEL_URL = env_str("PLANS_CHECKOUT_CANCEL_URL", f"{PUBLIC_BASE_URL}/billing/plan?checkout=canceled")

# --- Metering and the extras ledger (metering/, METERING.md, docs/metering.md). Off: attributions and resets do
# nothing and say so. Costs are dollars per category; one dollar is DOLLARS_TO_UNIT_RATIO units (times the plan
# version's ratio); an operation reported without costs is METER_RUN_BASE units; one is capped at
# MAX_UNITS_PER_OPERATION. Credit packs (bought from the platform's Stripe): pack id → units, price in cents,
# currency, days until the units expire.
BILLING_METER_MODE = env_bool("BILLING_METER_MODE", True)
DOLLARS_TO_UNIT_RATIO = env_int("DOLLARS_TO_UNIT_RATIO", 1000)
METER_RUN_BASE = env_int("METER_RUN_BASE", 1)
MAX_UNITS_PER_OPERATION = env_int("MAX_UNITS_PER_OPERATION", 1_000_000)
METERING_CREDIT_PACKS = {
    "extras-1k": {"units": 1_000, "price_cents": 1_000, "currency": "usd", "expiry_days": 90},
    "extras-10k": {"units": 10_000, "price_cents": 9_000, "currency": "usd", "expiry_days": 365},
}

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
# A resource whose Celery message was lost (the broker was down when it was queued, or a worker lost it before
# starting it) is queued again by the beat task `billing.sweep_sync_runs` once it has waited this long, pending;
# the same task fails runs that made no progress for BILLING_SYNC_STALE_MINUTES. A resource's task hands over
# to a new message of its own after this many seconds of pages, so that one long resource does not hold a
# worker process.
BILLING_SYNC_REQUEUE_SECONDS = env_int("BILLING_SYNC_REQUEUE_SECONDS", 600)
BILLING_SYNC_SLICE_SECONDS = env_int("BILLING_SYNC_SLICE_SECONDS", 60)
# A resource's progress (`billing_sync_progress`) is announced after its first page, then at most this often:
# one notification costs as much as writing a page (a channel-layer send), and no screen shows more.
BILLING_SYNC_PROGRESS_SECONDS = 0.5

# Redis's visibility timeout: a message a worker has fetched but not acknowledged is handed to another worker
# after this long. A retry's message is fetched at once and held until its countdown, so the timeout must exceed
# the longest retry delay plus the longest a task may run, or a waiting retry would run twice. Computed here
# so that raising a retry cap raises it too (margin: 10 minutes).
BROKER_VISIBILITY_TIMEOUT_SECONDS = (
    max(WEBHOOK_RETRY_MAX_SECONDS, BILLING_SYNC_RETRY_MAX_SECONDS, CONTACTS_IMPORT_RETRY_MAX_SECONDS)
    + max([CELERY_TASK_TIME_LIMIT] + [limits["time_limit"] for limits in CELERY_TASK_ANNOTATIONS.values()])
    + 600
)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT_SECONDS}

# --- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    # How many proxies in front of us append to X-Forwarded-For: the throttles' client IP. 0 reads REMOTE_ADDR only
    # (unset, DRF would trust a client-sent X-Forwarded-For and any client could pick its own IP).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "DEFAULT_PERMISSION_CLASSES": ["accounts.tenancy.IsAccountMember"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler.exception_handler",
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "UPDATE_LAST_LOGIN": False,
    # A refresh token is good once: refreshing answers a new one and blacklists the old (token_blacklist app).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a digest of the password hash, checked on every request: a password change ends every access
    # token issued before it (refresh tokens are blacklisted by the change itself, accounts/services.py).
    "CHECK_REVOKE_TOKEN": True,
}
# Auth throttles (accounts/throttles.py), "<count>/<second|minute|hour|day>". Obtaining a token, refreshing one,
# changing a password and the admin login each count per username (per user for a refresh) and per client IP.
AUTH_THROTTLE_PER_USERNAME = env_str("AUTH_THROTTLE_PER_USERNAME", "10/minute")
AUTH_THROTTLE_PER_IP = env_str("AUTH_THROTTLE_PER_IP", "60/minute")
# The websocket (accounts/consumers.py): origins a browser may open it from (default: ALLOWED_HOSTS; a socket
# without an Origin header is not a browser's and is let through); a ticket's lifetime; how often an open socket
# re-checks its membership besides the events that ask it to (membership removed, account or user changed).
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", [])
WS_TICKET_SECONDS = env_int("WS_TICKET_SECONDS", 30)
WS_RECHECK_SECONDS = env_int("WS_RECHECK_SECONDS", 300)
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
    # Choice sets that share a field name ("status") get names of their own, not a hash.
    "ENUM_NAME_OVERRIDES": {
        "RefundRequestStatusEnum": "billing.models.records.RefundRequest.Status",
        "ContactTypeEnum": "contacts_import.models.contact.Contact.Type",
        "PlanIntervalEnum": "plans.api.serializers.INTERVALS",
        "IntervalEnum": "billing.api.catalog.INTERVALS",  # named before plans brought another interval choice
    },
}

# --- Observability (docs/observability.md). /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>`;
# without a token it is off (404). Several web processes share their request histogram through
# PROMETHEUS_MULTIPROC_DIR (read by prometheus-client from the environment, not here). Sentry only with a DSN.
DEV_METRICS_TOKEN = "dev-metrics-token"
METRICS_TOKEN = env_str("METRICS_TOKEN", _dev_default(DEV_METRICS_TOKEN))
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from core.error_reporting import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT"),
        traces_sample_rate=float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
    )

# --- Logging: one line per event, with the account and the request or task id (never a secret). LOG_FORMAT=json
# makes each line a JSON object (core/logformat.py, docs/observability.md); web and workers alike, since Celery
# leaves the root logger to this configuration (CELERY_WORKER_HIJACK_ROOT_LOGGER above).
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "line")
if LOG_FORMAT not in ("line", "json"):
    raise ImproperlyConfigured(f'LOG_FORMAT must be "line" or "json", got {LOG_FORMAT!r}')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logcontext.ContextFilter"}},
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s [account=%(account_id)s req=%(request_id)s] %(message)s"
        },
        "json": {"()": "core.logformat.JsonLineFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}


def _refuse_unsafe_secrets() -> None:
    """Without BILLING_DEV_DEFAULTS, every secret is set, none holds a development default (copied from this file),
    and the JWT key is not the SECRET_KEY."""
    if DEV_DEFAULTS:
        return
    secrets = {
        "SECRET_KEY": (SECRET_KEY, DEV_SECRET_KEY),
        "JWT_SIGNING_KEY": (JWT_SIGNING_KEY, DEV_SECRET_KEY),
        "FIELD_ENCRYPTION_KEY": (FIELD_ENCRYPTION_KEY, DEV_FIELD_ENCRYPTION_KEY),
        "STRIPE_SECRET_KEY": (STRIPE_SECRET_KEY, DEV_STRIPE_SECRET_KEY),
        "STRIPE_WEBHOOK_SECRET": (STRIPE_WEBHOOK_SECRET, DEV_STRIPE_WEBHOOK_SECRET),
    }
    problems = []
    missing = [name for name, (value, _) in secrets.items() if not value]
    if missing:
        problems.append("these settings are not set: " + ", ".join(missing))
    # FIELD_ENCRYPTION_KEY is a list (newest first): the development key anywhere in it is refused.
    insecure = [name for name, (value, dev) in secrets.items() if value and dev in value.split(",")]
    if insecure:
        problems.append("these settings still hold their development defaults: " + ", ".join(insecure))
    if JWT_SIGNING_KEY and JWT_SIGNING_KEY == SECRET_KEY:
        problems.append("JWT_SIGNING_KEY must differ from SECRET_KEY")
    if METRICS_TOKEN == DEV_METRICS_TOKEN:
        problems.append("METRICS_TOKEN holds its development default")
    if problems:
        raise ImproperlyConfigured(
            "; ".join(problems)
            + ". Set them in the environment (development defaults exist only with BILLING_DEV_DEFAULTS=1)."
        )


_refuse_unsafe_secrets()

# Dunning (plans/services/dunning.py): past_due for longer than this many days → unpaid, on the default plan.
BILLING_DUNNING_DAYS = env_int("BILLING_DUNNING_DAYS", 14)
