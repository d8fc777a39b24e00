"""Creates one dj-stripe WebhookEndpoint per secret given on stdin (a JSON list); prints their URL paths (JSON)."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.djstripe_peer.settings")
django.setup()

from djstripe.models import WebhookEndpoint  # noqa: E402 - after setup

secrets = json.load(sys.stdin)
paths = []
for index, secret in enumerate(secrets):
    endpoint = WebhookEndpoint.objects.create(
        id=f"we_bench{index:04d}",
        livemode=False,
        url=f"http://127.0.0.1/stripe/webhook/{index}/",
        secret=secret,
        api_version="2025-08-27.basil",
        enabled_events=["*"],
        status="enabled",
        djstripe_validation_method="verify_signature",
        djstripe_tolerance=300,
    )
    paths.append(f"/stripe/webhook/{endpoint.djstripe_uuid}/")
print(json.dumps(paths))
