"""Optional Sentry: nothing of it without SENTRY_DSN; with one, an exception in a view reaches the DSN's server
as a real envelope POST (here a server of our own on 127.0.0.1), without the request's cookies."""

import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers.settings_process import start_settings

IMPORTED = """
import sys
print("sentry_sdk imported:", "sentry_sdk" in sys.modules)
"""

FAILING_VIEW = """
import sentry_sdk
from django.test import Client, override_settings
from django.urls import path


def boom(request):
    raise RuntimeError("the view failed on purpose")


urlpatterns = [path("boom/", boom)]
with override_settings(ROOT_URLCONF="__main__"):
    response = Client(raise_request_exception=False).get("/boom/", HTTP_COOKIE="sessionid=a-secret-cookie")
print("status", response.status_code)
sentry_sdk.flush(timeout=20)
"""


class Envelopes(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        type(self).received.append(self.path.encode() + b"\n" + body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    Envelopes.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Envelopes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", Envelopes.received
    server.shutdown()
    server.server_close()


def test_without_a_dsn_sentry_is_not_even_imported():
    result = start_settings(IMPORTED, BILLING_DEV_DEFAULTS="1")
    assert result.returncode == 0, result.stderr
    assert "sentry_sdk imported: False" in result.stdout


def test_with_a_dsn_an_exception_in_a_view_reaches_sentry(sentry_server):
    dsn, received = sentry_server
    result = start_settings(FAILING_VIEW, BILLING_DEV_DEFAULTS="1", SENTRY_DSN=dsn)
    assert result.returncode == 0, result.stderr
    assert "status 500" in result.stdout
    events = [envelope for envelope in received if b'"type":"event"' in envelope]
    assert len(events) == 1, received
    assert events[0].startswith(b"/api/1/envelope/")
    assert b"the view failed on purpose" in events[0] and b"RuntimeError" in events[0]
    assert b"a-secret-cookie" not in events[0]  # send_default_pii=False
