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
from tests.serving.http_checks import policy_with_audit, serve_in_thread

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


def test_a_qa_auditor_judges_a_sampled_decision_blind_and_sees_the_estimate(
    chromium: Any, demo_bundle: Path, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    keys = {
        name: issue_key(url, name, role) for name, role in (("pipe", "pipeline"), ("quinn", "qa"))
    }
    policy = policy_with_audit(tmp_path, rates={"auto_allow": 1.0, "auto_enforce": 1.0})
    settings = Settings(bundle=demo_bundle, database_url=url, policy=str(policy))
    with serve_in_thread(create_app(settings)) as port:
        base = f"http://127.0.0.1:{port}"
        wallet = {"listing_id": "qa-b1", "title": "Hand-stitched leather wallet", "price": 40.0}
        assert _call(base, keys["pipe"], "POST", "/v1/score", wallet)["action"] == "allow"
        page = chromium.new_page()
        _sign_in(page, base, keys["quinn"])
        page.goto(f"{base}/console?kind=qa")
        page.keyboard.press("n")
        page.wait_for_url(f"{base}/console/items/*")
        assert page.locator("#blind").is_visible()
        shown = page.inner_text("main")
        assert "Scores and reasons" not in shown and "model:" not in shown, "blind until judged"
        page.screenshot(path=str(ARTIFACTS / "5-blind-audit.png"))
        page.check("input[name=violated_fraud]")
        page.select_option("#qa-verdict select[name=decision]", "block")
        page.select_option("#qa-verdict select[name=reason_code]", "scam-or-fraud")
        page.click("#qa-verdict button")
        page.wait_for_url(f"{base}/console?*")
        assert "Decided" in page.inner_text(".notice")
        page.go_back()
        page.reload()
        assert "Scores and reasons" in page.inner_text("main"), "revealed after the verdict"
        page.goto(f"{base}/console/kpi?days=1")
        assert "from 1 audited decisions" in page.inner_text("main")
        fraud = page.locator("#prevalence tbody tr").first.inner_text()
        assert fraud.startswith("fraud") and "1.000" in fraud, "the one allow audited was a fraud"
        assert page.locator("#daily rect").count() >= 1, "decisions per day drawn as SVG"
        page.screenshot(path=str(ARTIFACTS / "6-kpi.png"), full_page=True)
        page.close()
