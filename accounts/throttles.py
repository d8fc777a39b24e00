"""Throttles for the ways in: obtaining and refreshing tokens, changing a password, the admin login.

Each counts per username (per user for a refresh) and per client IP, in the Django cache, which is Redis whenever
there is one, so every web process shares the counters. Every attempt counts, right or wrong: a guesser learns
nothing from which attempts were refused. A throttled request is 429 with `Retry-After`."""

import hashlib
import logging
import math
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from core.api.exception_handler import error_body

logger = logging.getLogger(__name__)


class _AuthThrottle(SimpleRateThrottle):
    """Rates read from settings at each request (tests and operators change them without a restart of the class).
    A cache that cannot be reached lets the request through: logging in matters more than counting."""

    rate_setting = ""

    def get_rate(self):
        return getattr(settings, self.rate_setting)

    def __init__(self, scope: str | None = None):
        # One class serves several endpoints, each with its own counters (its scope).
        if scope:
            self.scope = scope
        # SimpleRateThrottle reads the rate in __init__; keep that, but from our setting.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - a cache outage must not lock everyone out
            logger.warning("auth throttle %s: the cache is unreachable; request let through", self.scope)
            return True

    def key(self, ident: str) -> str:
        # Hashed: usernames never sit in the cache in clear, and any string makes a valid key.
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(ident.encode()).hexdigest()}


def _field(request, name: str):
    data = getattr(request, "data", None)
    if data is None:  # a plain Django request (the admin login)
        data = request.POST
    value = data.get(name) if hasattr(data, "get") else None
    return value if isinstance(value, str) and value else None


class PerIPThrottle(_AuthThrottle):
    rate_setting = "AUTH_THROTTLE_PER_IP"
    scope = "auth_ip"

    def get_cache_key(self, request, view):
        return self.key(self.get_ident(request))


class PerUsernameThrottle(_AuthThrottle):
    """The username the request tries (case-folded: `Demo` and `demo` share a count)."""

    rate_setting = "AUTH_THROTTLE_PER_USERNAME"
    scope = "auth_username"

    def get_cache_key(self, request, view):
        username = _field(request, "username")
        return self.key(username.casefold()) if username else None


class PerRefreshUserThrottle(_AuthThrottle):
    """The user a refresh token names (its signature checked, not its expiry or the blacklist: a replayed,
    rotated-out token counts against its user too)."""

    rate_setting = "AUTH_THROTTLE_PER_USERNAME"
    scope = "auth_refresh_user"

    def get_cache_key(self, request, view):
        raw = _field(request, "refresh")
        if not raw:
            return None
        try:
            user_id = RefreshToken(raw, verify=False).get(jwt_settings.USER_ID_CLAIM)
        except TokenError:
            return None  # a forged or garbled token: the per-IP count still applies
        return self.key(str(user_id)) if user_id else None


class PerUserThrottle(_AuthThrottle):
    """The authenticated user (a password change: guessing the old password with a stolen access token)."""

    rate_setting = "AUTH_THROTTLE_PER_USERNAME"
    scope = "auth_user"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        return self.key(str(user.pk)) if user is not None and user.is_authenticated else None


def throttle_admin_login(login_view):
    """Wraps the admin site's login view: its POSTs count per username and per IP like the API's token view
    (their own counters). A throttled attempt is answered 429 with Retry-After before the password is checked."""

    @wraps(login_view)
    def view(request, *args, **kwargs):
        if request.method == "POST":
            throttles = [PerIPThrottle("admin_login_ip"), PerUsernameThrottle("admin_login_username")]
            waits = [t.wait() for t in throttles if not t.allow_request(request, None)]
            if waits:
                retry_after = max(1, *(math.ceil(w or 1) for w in waits))
                response = JsonResponse(
                    error_body(
                        "throttled",
                        f"Too many login attempts. Try again in {retry_after} seconds.",
                        {"retry_after": retry_after},
                    ),
                    status=429,
                )
                response["Retry-After"] = str(retry_after)
                return response
        return login_view(request, *args, **kwargs)

    return view
