"""A local HTTP endpoint for the fake's webhooks: it records each delivery and lets a test wait for one (on a
condition, not a sleep), verified with `stripe.Webhook.construct_event` as a real webhook handler would."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

DELIVERY_TIMEOUT_SECONDS = 15  # localstripe posts about a second after the event


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._deliveries: list[tuple[bytes, str]] = []  # (payload, Stripe-Signature header)
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                payload = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._arrived:
                    receiver._deliveries.append((payload, self.headers.get("Stripe-Signature", "")))
                    receiver._arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _find(self, event_type: str, object_id: str) -> tuple[bytes, str] | None:
        for payload, signature in self._deliveries:
            event = json.loads(payload)
            if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                return payload, signature
        return None

    def wait_for(self, event_type: str, object_id: str) -> stripe.Event:
        """The delivered event of this type about this object, signature verified."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: self._find(event_type, object_id), timeout=DELIVERY_TIMEOUT_SECONDS)
            delivered = [json.loads(payload)["type"] for payload, _ in self._deliveries]
        assert found, f"no {event_type} about {object_id} delivered; got {delivered}"
        payload, signature = found
        return stripe.Webhook.construct_event(payload, signature, self.secret)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
