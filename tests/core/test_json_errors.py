"""Unknown /api/ paths and unhandled exceptions answer the one error shape, never an HTML page (issue 10, items 3
and 7: `/account/members/abc/` answered Django's debug page listing every URL pattern to anonymous callers)."""

import pytest
from django.test import Client
from django.urls import path

from billing_project.urls import *  # noqa: F403 - the real URL configuration, with one view that fails
from billing_project.urls import urlpatterns as product_urlpatterns


def _boom(request):
    raise RuntimeError("a bug outside DRF")


urlpatterns = [path("boom/", _boom), *product_urlpatterns]


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404_listing_nothing(settings, debug):
    settings.DEBUG = debug
    response = Client().get("/api/v1/account/members/abc/")
    error = assert_error_shape(response, 404, "not_found")
    assert b"urlpatterns" not in response.content and b"api/v1/billing" not in response.content
    assert error["details"] == {"path": "/api/v1/account/members/abc/"}


@pytest.mark.django_db
def test_a_missing_trailing_slash_is_named_instead_of_redirected(settings):
    settings.DEBUG = True
    response = Client().post("/api/v1/billing/sync", {}, content_type="application/json")
    error = assert_error_shape(response, 404, "not_found")
    assert "Did you mean /api/v1/billing/sync/" in error["message"]


@pytest.mark.django_db
def test_an_unknown_path_outside_the_api_is_a_json_404_with_debug_off(settings):
    settings.DEBUG = False
    assert_error_shape(Client().get("/no/such/page/"), 404, "not_found")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.django_db
def test_an_unhandled_exception_in_an_api_view_is_a_json_500_and_is_logged(api, settings, monkeypatch, caplog, debug):
    from accounts.api import views

    def broken(**kwargs):
        raise RuntimeError("a bug in a selector")

    settings.DEBUG = debug
    monkeypatch.setattr(views, "membership_list", broken)
    api.raise_request_exception = False
    response = api.get("/api/v1/account/members/")
    error = assert_error_shape(response, 500, "server_error")
    assert "selector" not in error["message"] and b"Traceback" not in response.content
    assert any(record.exc_info and "a bug in a selector" in str(record.exc_info[1]) for record in caplog.records)


@pytest.mark.django_db
def test_the_test_client_still_sees_the_bug(api, monkeypatch):
    """Error trackers and the test client hear of it through Django's got_request_exception."""
    from accounts.api import views

    def broken(**kwargs):
        raise RuntimeError("a bug in a selector")

    monkeypatch.setattr(views, "membership_list", broken)
    with pytest.raises(RuntimeError, match="a bug in a selector"):
        api.get("/api/v1/account/members/")


@pytest.mark.django_db
def test_an_unhandled_exception_outside_drf_is_a_json_500_with_debug_off(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    assert_error_shape(client.get("/boom/"), 500, "server_error")
