"""The console in headless Chromium: sign in, claim, decide by shortcut, an appeal overturned by
a second reviewer, a hostile title rendered inert. Screenshots go to var/test-artifacts/console.
"""

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from benchmarks.live_server import issue_key
from serving.app import create_app
from serving.settings import Settings
from tests.conftest import REPO_ROOT
from tests.serving.http_checks import serve_in_thread

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "console"
HOSTILE = {
    "listing_id": "xss-1",
    "title": 'Tobacco pouch <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>',
    "description": "Hand-rolling tobacco pouch 50g, menthol. Loose tobacco, ships discreetly.",
    "price": 14.0,
    "seller_id": "seller-x",
}


def _call(base: str, key: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/console")
    assert page.url.endswith("/console/login"), "signed-out visitors go to the sign-in page"
    page.fill("input[name=key]", key)
    page.click("#login button")
    page.wait_for_url(f"{base}/console")


def test_a_reviewer_works_the_queue_and_a_second_overturns_the_appeal(
    chromium: Any, demo_bundle: Path, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / 'console.db'}"
    keys = {
        name: issue_key(url, name, role)
        for name, role in (("pipe", "pipeline"), ("ana", "reviewer"), ("bo", "reviewer"))
    }
    with serve_in_thread(create_app(Settings(bundle=demo_bundle, database_url=url))) as port:
        base = f"http://127.0.0.1:{port}"
        decision = _call(base, keys["pipe"], "POST", "/v1/score", HOSTILE)
        assert decision["action"] == "review", decision
        page = chromium.new_page()
        _sign_in(page, base, keys["ana"])
        assert page.locator("#queue tbody tr[data-item]").count() == 1
        page.screenshot(path=str(ARTIFACTS / "1-queue.png"))
        page.keyboard.press("n")
        page.wait_for_url(f"{base}/console/items/*")
        assert "<script>window.__xss=2</script>" in page.inner_text("#title"), "shown as text"
        assert page.evaluate("window.__xss") is None, "the title's markup did not run"
        page.screenshot(path=str(ARTIFACTS / "2-item.png"))
        page.keyboard.press("b")
        page.wait_for_url(f"{base}/console?*")
        assert "Decided" in page.inner_text(".notice")
        assert page.locator("#queue tbody tr[data-item]").count() == 0, "the item left the queue"
        page.goto(f"{base}/console/items/{decision['review_item_id']}")
        assert "ana · decide: claimed → decided" in page.inner_text("#history")
        page.screenshot(path=str(ARTIFACTS / "3-decided.png"))
        appeal = _call(base, keys["pipe"], "POST", "/v1/appeals",
                       {"listing_id": "xss-1", "reason": "it is herbal"})  # fmt: skip
        page.goto(f"{base}/console?kind=appeal")
        page.keyboard.press("n")
        assert "Nothing to claim" in page.inner_text(".notice"), "ana decided the original"
        page.context.clear_cookies()
        _sign_in(page, base, keys["bo"])
        page.goto(f"{base}/console?kind=appeal")
        page.keyboard.press("n")
        page.wait_for_url(f"{base}/console/items/{appeal['id']}")
        page.keyboard.press("a")
        page.wait_for_url(f"{base}/console?*")
        page.goto(f"{base}/console/sellers/seller-x")
        assert "0 active points" in page.inner_text("#standing")
        page.screenshot(path=str(ARTIFACTS / "4-appeal-overturned.png"))
        answer = _call(base, keys["pipe"], "POST", "/v1/score", HOSTILE)
        assert (answer["action"], answer["human_decision"]["decided_by"]) == ("allow", "bo")
        page.close()
