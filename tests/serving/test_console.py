"""The console over HTTP: sign-in, CSRF, security headers, escaping; /docs served offline."""

import json
import re

from fastapi.testclient import TestClient

from serving.console.sessions import COOKIE
from tests.serving.http_checks import as_

TOBACCO = {
    "listing_id": "con-1",
    "title": "<b>bold</b> tobacco pouch",
    "description": "Hand-rolling tobacco pouch 50g, menthol. Loose tobacco, ships discreetly.",
    "price": 14.0,
}


def _sign_in(client: TestClient, key: str) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token, page.text
    answer = client.post(
        "/console/login", data={"key": key, "token": token.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console").text)
    assert found
    return found.group(1)


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/console", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


def test_a_wrong_key_or_a_stale_form_does_not_sign_in(client: TestClient) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    wrong = client.post("/console/login", data={"key": "lg_x", "token": token.group(1)})
    assert wrong.status_code == 401 and "malformed API key" in wrong.text
    stale = client.post("/console/login", data={"key": "lg_x", "token": "1.abc"})
    assert stale.status_code == 401 and "expired" in stale.text
    assert COOKIE not in client.cookies


def test_forms_without_the_sessions_csrf_token_are_refused(
    client: TestClient, keys: dict[str, str]
) -> None:
    client.post("/v1/score", json=TOBACCO)
    _sign_in(client, keys["ana"])
    forged = client.post("/console/claim", data={"kind": "review", "csrf": "0" * 32})
    assert forged.status_code == 403 and "CSRF" in forged.text
    claimed = client.post(
        "/console/claim", data={"kind": "review", "csrf": _csrf(client)}, follow_redirects=False
    )
    assert claimed.status_code == 303 and "/console/items/" in claimed.headers["location"]


def test_pages_escape_listing_text_and_set_a_strict_policy(
    client: TestClient, keys: dict[str, str]
) -> None:
    item_id = client.post("/v1/score", json=TOBACCO).json()["review_item_id"]
    _sign_in(client, keys["ana"])
    page = client.get(f"/console/items/{item_id}")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"


def test_a_role_sees_only_the_queues_it_may_work(client: TestClient, keys: dict[str, str]) -> None:
    _sign_in(client, keys["ana"])
    queue = client.get("/console").text
    assert "review queue" in queue and "senior queue" not in queue and "gold queue" not in queue
    refused = client.post("/console/claim", data={"kind": "senior", "csrf": _csrf(client)})
    assert refused.status_code == 403


def test_the_api_docs_page_needs_no_network(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    scripts = re.findall(r'src="([^"]+)"', docs.text)
    assert scripts and all(src.startswith("/static/swagger/") for src in scripts), scripts
    for asset in scripts + re.findall(r'href="(/static/[^"]+)"', docs.text):
        assert client.get(asset).status_code == 200, asset


def test_a_pipeline_key_has_no_console(client: TestClient, keys: dict[str, str]) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    refused = client.post("/console/login", data={"key": keys["pipeline"], "token": token.group(1)})
    assert refused.status_code == 401 and "no console pages" in refused.text
    assert COOKIE not in client.cookies


def test_a_bad_hold_is_an_error_page_not_a_crash(client: TestClient, keys: dict[str, str]) -> None:
    item_id = client.post("/v1/score", json=TOBACCO).json()["review_item_id"]
    _sign_in(client, keys["ana"])
    client.post("/console/claim", data={"kind": "review", "csrf": _csrf(client)})
    for hours in ("abc", "nan", "1e10"):
        answer = client.post(
            f"/console/items/{item_id}/hold",
            data={"csrf": _csrf(client), "reason": "r", "hours": hours},
        )
        assert answer.status_code == 422, (hours, answer.text)
    odd = client.post("/console/claim", data={"kind": "review", "csrf": "é" * 32})
    assert odd.status_code == 403


def test_the_kpi_page_shows_promises_and_queues_to_qa(
    client: TestClient, keys: dict[str, str]
) -> None:
    client.post("/v1/score", json=TOBACCO)
    _sign_in(client, keys["quinn"])
    page = client.get("/console/kpi", params={"days": "7"})
    assert page.status_code == 200
    assert "violations let through" in page.text and "<svg" in page.text
    assert "review 1" in page.text, "the open review item is counted"
    assert "not shown below 30 audited pairs" in page.text
    assert 'id="daily"' in page.text and "Prevalence" in page.text and 'id="gold"' in page.text
    elsewhere = client.get("/console/kpi", params={"days": "7", "market": "IN"})
    assert "market IN" in elsewhere.text and "review 0" in elsewhere.text, "no IN traffic"
    client.cookies.clear()
    _sign_in(client, keys["ana"])
    assert client.get("/console/kpi").status_code == 403
    assert "second queue" not in client.get("/console").text, "second reviews look like reviews"


def test_the_case_library_browses_prints_and_exports(
    client: TestClient, keys: dict[str, str]
) -> None:
    client.post("/v1/score", json=TOBACCO)
    _sign_in(client, keys["ana"])
    claimed = client.post(
        "/console/claim", data={"kind": "review", "csrf": _csrf(client)}, follow_redirects=False
    )
    item_id = claimed.headers["location"].rsplit("/", 1)[1]
    decision = {"decision": "block", "reason_code": "prohibited-item", "csrf": _csrf(client)}
    client.post(f"/console/items/{item_id}/decide", data=decision)
    appeal = {"listing_id": "con-1", "reason": "licensed shop"}
    assert client.post("/v1/appeals", json=appeal, headers=as_(keys["root"])).status_code == 201
    client.cookies.clear()
    _sign_in(client, keys["bo"])
    claimed = client.post(
        "/console/claim", data={"kind": "appeal", "csrf": _csrf(client)}, follow_redirects=False
    )
    appeal_id = claimed.headers["location"].rsplit("/", 1)[1]
    overturn = {
        "decision": "allow", "reason_code": "allowed-with-authorization",
        "note": "licence <checked>", "csrf": _csrf(client),
    }  # fmt: skip
    client.post(f"/console/items/{appeal_id}/decide", data=overturn)
    library = client.get("/console/cases")
    assert library.status_code == 200 and "appeal overturned" in library.text
    assert "licence &lt;checked&gt;" in library.text, "escaped"
    assert "&lt;b&gt;bold&lt;/b&gt; tobacco pouch" in library.text
    printable = client.get("/console/cases/print", params={"market": "US"})
    assert "report.css" in printable.text and "licence &lt;checked&gt;" in printable.text
    assert printable.headers["content-security-policy"].startswith("default-src 'none'")
    lines = client.get("/console/cases.jsonl").text.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["rationale"] == "licence <checked>"
    assert "No cases match" in client.get("/console/cases/print", params={"market": "IN"}).text
