"""Starting the product's settings in a fresh process with a given environment: the only way to see what
settings.py decides at import (the test process's own settings were read once, with the development defaults)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every variable that makes settings.py lean one way or another; a test starts from none of them.
DECIDING = (
    "BILLING_DEV_DEFAULTS",
    "DEBUG",
    "SECRET_KEY",
    "JWT_SIGNING_KEY",
    "FIELD_ENCRYPTION_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "DJANGO_SETTINGS_MODULE",
)

# Made up for these tests, none a development default.
PRODUCTION_SECRETS = {
    "SECRET_KEY": "a-real-secret-" + "x" * 50,
    "JWT_SIGNING_KEY": "a-real-jwt-key-" + "y" * 50,
    "FIELD_ENCRYPTION_KEY": "cHJvZHVjdGlvbi1maWVsZC1lbmNyeXB0aW9uLWtleTE=",
    "STRIPE_SECRET_KEY": "sk_live_realkey",
    "STRIPE_WEBHOOK_SECRET": "whsec_real",
}


def settings_env(**env: str) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in DECIDING}
    full.update(env, DJANGO_SETTINGS_MODULE="billing_project.settings")
    return full


def start_settings(code: str = "print('started')", **env: str) -> subprocess.CompletedProcess:
    """Runs `code` after django.setup() under billing_project.settings and exactly `env` (plus the rest of the
    test process's environment that does not decide anything)."""
    script = f"import django\ndjango.setup()\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], env=settings_env(**env), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
