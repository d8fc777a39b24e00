"""Paged lists validate `page` and `page_size` instead of guessing (issue 10, item 7: `page_size=null` was silently
ignored, `page=0` a 404 the schema did not mention)."""

import pytest

URL = "/api/v1/account/members/"


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=abc", "page=", "page=last", "page_size=null", "page_size=0", "page_size=501"]
)
@pytest.mark.django_db
def test_a_malformed_page_or_page_size_is_a_400_naming_it(api, query):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]["fields"]) == {query.split("=")[0]}


@pytest.mark.django_db
def test_a_page_past_the_end_is_a_404_and_a_good_page_size_is_used(api):
    assert api.get(f"{URL}?page=2").json()["error"]["code"] == "not_found"
    body = api.get(f"{URL}?page=1&page_size=500").json()
    assert body["count"] == 1 and len(body["results"]) == 1


@pytest.mark.django_db
def test_the_schema_bounds_both_parameters(client):
    schema = client.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p["schema"] for p in schema["paths"][URL]["get"]["parameters"]}
    assert parameters["page"]["minimum"] == 1
    assert (parameters["page_size"]["minimum"], parameters["page_size"]["maximum"]) == (1, 500)
    assert set(schema["paths"][URL]["get"]["responses"]) == {"200", "400", "401", "403", "404"}
