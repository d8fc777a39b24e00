"""ASGI entry point: HTTP through Django (the Stripe webhook POSTs answered first by their own lean path,
billing/api/webhook_asgi.py), websockets through Channels (a ticket or JWT in the query string; a browser's Origin
checked)."""

import functools
import gc
import logging
import os
from pathlib import Path

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up first
from django.conf import settings  # noqa: E402

from accounts.consumers import BrowserOriginValidator  # noqa: E402
from billing.api.webhook_asgi import WebhookIntakeApp  # noqa: E402
from billing_project.routing import websocket_urlpatterns  # noqa: E402

if settings.DEBUG:
    # Development: the admin's and the API docs' static files straight from the apps' folders (finders).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)
else:
    # Production: the files `collectstatic` gathered into STATIC_ROOT, served by servestatic in front of Django
    # (docs/deploy.md). In front of Django rather than as its middleware: a file never goes through Django's
    # request cycle, and the middleware chain (sync middleware, run in a thread) gains no async-only link to
    # adapt to on every request, in tests' clients too. Hashed names (servestatic's default test, the manifest
    # storage's names) are cached for ever; brotli/gzip copies are served to clients that accept them.
    from servestatic.asgi import ServeStaticASGI

    django_asgi_app = ServeStaticASGI(django_asgi_app)
    if Path(settings.STATIC_ROOT).is_dir():
        django_asgi_app.add_files(settings.STATIC_ROOT, prefix=settings.STATIC_URL)
    elif not settings.DEV_DEFAULTS:
        logging.getLogger(__name__).warning(
            "No static files at %s: run `manage.py collectstatic` (docs/deploy.md)", settings.STATIC_ROOT
        )

webhook_intake_app = WebhookIntakeApp(django_asgi_app)


def skip_twisted_form_parsing() -> None:
    """daphne hands the application the raw request body and never reads the form fields Twisted parses out
    of a POST, but Twisted still parses every POST's Content-Type with the `email` package to look for one:
    13 % of a daphne process's CPU under the webhook bench. Twisted's own switch,
    `Request(parsePOSTFormSubmission=False)`, turns that off for daphne's requests. Nothing else changes."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server
        return
    init = WebRequest.__init__
    if getattr(init, "skips_form_parsing", False):
        return

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("parsePOSTFormSubmission", False)
        init(self, *args, **kwargs)

    __init__.skips_form_parsing = True
    WebRequest.__init__ = __init__


skip_twisted_form_parsing()

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's full passes,
# which otherwise walk it again and again under load (webhook intake allocates fast).
gc.freeze()
application = ProtocolTypeRouter(
    {"http": webhook_intake_app, "websocket": BrowserOriginValidator(URLRouter(websocket_urlpatterns))}
)
