"""ASGI entry point: HTTP through Django (the Stripe webhook POSTs answered first by their own lean path,
billing/api/webhook_asgi.py), websockets through Channels (a ticket or JWT in the query string; a browser's Origin
checked)."""

import functools
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up first
from django.conf import settings  # noqa: E402

from accounts.consumers import BrowserOriginValidator  # noqa: E402
from billing.api.webhook_asgi import WebhookIntakeApp  # noqa: E402
from billing_project.routing import websocket_urlpatterns  # noqa: E402

if settings.DEBUG:
    # Development: daphne serves the admin's and the API docs' static files itself (production: collectstatic
    # behind the web server or a CDN).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

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
