"""ASGI entry point: HTTP through Django (the Stripe webhook POSTs answered first by their own lean path,
billing/api/webhook_asgi.py), websockets through Channels (JWT in the query string)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up first
from django.conf import settings  # noqa: E402

from billing.api.webhook_asgi import WebhookIntakeApp  # noqa: E402
from billing_project.routing import websocket_urlpatterns  # noqa: E402

if settings.DEBUG:
    # Development: daphne serves the admin's and the API docs' static files itself (production: collectstatic
    # behind the web server or a CDN).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

webhook_intake_app = WebhookIntakeApp(django_asgi_app)

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's full passes,
# which otherwise walk it again and again under load (webhook intake allocates fast).
gc.freeze()
application = ProtocolTypeRouter({"http": webhook_intake_app, "websocket": URLRouter(websocket_urlpatterns)})
