"""QA audit: sampling with known inclusion probabilities, blind verdicts, the live estimates."""

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import AuditPolicy, ReviewPolicy, audit_draw
from serving.decision_store import record_decision
from serving.qa_estimates import audit_report
from serving.review_actions import claim_next, decide
from serving.review_queue import count_items, list_items
from serving.settings import Settings
from serving.tables import WorkItem, utc_now
from tests.factories import make_new_decision, make_review_decision
from tests.serving.http_checks import as_, error_of, keys_of, open_client, policy_with_audit

EVERYTHING = AuditPolicy(rates={"auto_allow": 1.0, "auto_enforce": 1.0, "human": 1.0})
LABELS = ["fraud", "counterfeit", "regulated"]
CLEAN = dict.fromkeys(LABELS, False)


def test_the_draw_is_fixed_by_seed_and_id_and_matches_the_rate() -> None:
    assert audit_draw("s", "decision-1") == audit_draw("s", "decision-1")
    assert audit_draw("s", "decision-1") != audit_draw("t", "decision-1")
    drawn = sum(audit_draw("s", f"d-{n}") < 0.05 for n in range(4000))
    spread = 4 * (4000 * 0.05 * 0.95) ** 0.5  # four binomial standard deviations
    assert 200 - spread < drawn < 200 + spread


@pytest.mark.parametrize(
    ("action", "stratum"), [("allow", "auto_allow"), ("block", "auto_enforce")]
)
def test_an_automatic_decision_is_drawn_with_its_inclusion_probability(
    session_factory: sessionmaker[Session], action: str, stratum: str
) -> None:
    audit = AuditPolicy(rates={stratum: 1.0}, markets={"IN": {stratum: 0.0}})  # type: ignore[dict-item]
    record_decision(session_factory, make_new_decision(action=action, audit=audit))
    india = make_new_decision(action=action, audit=audit, market="IN")
    record_decision(session_factory, india)
    [item] = list_items(session_factory, kind="qa")
    assert (item.inclusion_probability, item.market) == (1.0, "US")
    with session_factory() as session:
        row = session.get_one(WorkItem, item.id)
        assert row.audit_stratum == f"{stratum}:US:1", "kind, market and rate"


def test_a_human_decision_is_audited_by_someone_else(
    session_factory: sessionmaker[Session],
) -> None:
    record_decision(session_factory, make_review_decision())
    item = claim_next(session_factory, "ana")
    assert item is not None
    review = ReviewPolicy(audit=EVERYTHING)
    decide(session_factory, item.id, "ana", action="block", reason_code="violation-confirmed",
           review=review)  # fmt: skip
    assert count_items(session_factory, kind="qa") == 1
    assert claim_next(session_factory, "ana", kind="qa") is None, "not one's own decision"
    audit = claim_next(session_factory, "quinn", kind="qa")
    assert audit is not None and audit.parent_id == item.id


def _audited(session_factory: sessionmaker[Session], action: str, violated: bool, n: int) -> None:
    decision = make_new_decision(action=action, audit=EVERYTHING, listing_id=f"{action}-{n}")
    if action == "block":
        decision = dataclasses.replace(decision, bands={**decision.bands, "fraud": "enforce"})
    record_decision(session_factory, decision)
    audit = claim_next(session_factory, "quinn", kind="qa")
    assert audit is not None
    decide(
        session_factory, audit.id, "quinn", action="block" if violated else "allow",
        reason_code="violation-confirmed" if violated else "no-violation",
        review=ReviewPolicy(audit=AuditPolicy(rates={})),
        violations={**CLEAN, "fraud": violated},
    )  # fmt: skip


def test_estimates_on_a_fully_audited_period_are_the_plain_shares(
    session_factory: sessionmaker[Session],
) -> None:
    for n, violated in enumerate([True, False, False, False]):
        _audited(session_factory, "allow", violated, n)
    for n, violated in enumerate([True, True, True, False]):
        _audited(session_factory, "block", violated, n)
    now = utc_now()
    report = audit_report(
        session_factory, LABELS, {"fraud": (0.1, 0.05)},
        since=now - timedelta(hours=1), until=now + timedelta(seconds=1),
    )  # fmt: skip
    fraud = report.labels[0]
    assert report.audited == 8
    assert fraud.let_through.value == pytest.approx(1 / 4), "1 of 4 violations auto-allowed"
    assert fraud.wrong_enforcements.value == pytest.approx(1 / 4), "1 of 4 blocks benign"
    assert fraud.let_through.low < 0.25 < fraud.let_through.high
    assert fraud.breached() == [], "with 8 audits nothing is shown above its promise for sure"


@pytest.fixture
def audited_client(demo_bundle: Path, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app under the example policy with every decision drawn for audit."""
    policy = policy_with_audit(
        tmp_path,
        rates={"auto_allow": 1.0, "auto_enforce": 1.0, "human": 1.0},
        gold_rate=0.0,
        second_review_rate=0.0,
    )
    settings = Settings(bundle=demo_bundle, database_url=database_url, policy=str(policy))
    with open_client(settings) as test_client:
        yield test_client


def test_a_qa_item_is_blind_until_its_verdict(audited_client: TestClient) -> None:
    client, keys = audited_client, keys_of(audited_client)
    listing = {
        "listing_id": "qa-1",
        "title": "Hand-rolling tobacco pouch 50g, menthol",
        "description": "Loose tobacco, ships discreetly.",
        "price": 14.0,
    }
    client.post("/v1/score", json=listing)
    item = client.post("/v1/queue/claim", json={}, headers=as_(keys["ana"])).json()
    block = {"action": "block", "reason_code": "prohibited-item"}
    client.post(f"/v1/queue/{item['id']}/decision", json=block, headers=as_(keys["ana"]))
    seen = client.post("/v1/queue/claim", json={"kind": "qa"}, headers=as_(keys["quinn"])).json()
    assert seen["blind"] and seen["scores"] == {} and seen["model_action"] == "hidden"
    assert seen["decision_id"] == "hidden" and seen["parent_id"] is None
    plain = client.post(f"/v1/queue/{seen['id']}/decision", json=block, headers=as_(keys["quinn"]))
    assert plain.status_code == 409 and "/verdict" in error_of(plain)["message"]
    path = f"/v1/queue/{seen['id']}/verdict"
    missing = client.post(path, json=block, headers=as_(keys["quinn"]))
    assert missing.status_code == 422 and error_of(missing)["field"] == "violations"
    partial = client.post(
        path, json={**block, "violations": {"fraud": True}}, headers=as_(keys["quinn"])
    )
    assert partial.status_code == 422
    verdict = {**block, "violations": {**CLEAN, "regulated": True}}
    done = client.post(path, json=verdict, headers=as_(keys["quinn"])).json()
    assert not done["blind"] and done["scores"] and done["qa_labels"]["regulated"] is True


def test_qa_estimates_need_the_qa_role(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/v1/qa/estimates").status_code == 403
    report = client.get("/v1/qa/estimates", headers=as_(keys["quinn"])).json()
    assert [label["label"] for label in report["labels"]] == LABELS
    fraud = report["labels"][0]
    assert fraud["violations_let_through"] == {
        "value": None, "low": 0.0, "high": 0.0, "confidence": 0.95, "audited": 0,
    }  # fmt: skip


def test_a_blind_item_tells_nothing_of_the_audited_decision(
    audited_client: TestClient,
) -> None:
    client, keys = audited_client, keys_of(audited_client)
    plain = {"listing_id": "qa-plain", "title": "ceramic coffee mug 350 ml", "price": 9.5}
    decision = client.post("/v1/score", json=plain).json()
    assert decision["action"] == "allow"
    audit = client.post("/v1/queue/claim", json={"kind": "qa"}, headers=as_(keys["quinn"])).json()
    assert audit["inclusion_probability"] is None
    history = client.get(f"/v1/queue/{audit['id']}/history", headers=as_(keys["quinn"])).json()
    assert all(entry["reason"] is None for entry in history["history"])
    for path in (f"/v1/decisions/{decision['decision_id']}", "/v1/sellers/anyone"):
        assert client.get(path, headers=as_(keys["quinn"])).status_code == 403, path
    withdrawn = client.post("/v1/listings/qa-plain/withdraw", json={"reason": "gone"}).json()
    assert withdrawn["closed_items"] == [], "an audit of a past decision stands"


def test_reviewer_accuracy_is_the_share_of_audited_human_decisions_qa_confirmed(
    session_factory: sessionmaker[Session],
) -> None:
    review = ReviewPolicy(audit=AuditPolicy(rates={"human": 1.0}))
    for n, (first, audit) in enumerate(
        [("block", "block"), ("allow", "allow"), ("block", "allow")]
    ):
        record_decision(session_factory, make_review_decision(listing_id=f"acc-{n}"))
        item = claim_next(session_factory, "ana")
        assert item is not None
        code = {"block": "violation-confirmed", "allow": "no-violation"}
        decide(session_factory, item.id, "ana", action=first, reason_code=code[first],
               review=review)  # fmt: skip
        qa = claim_next(session_factory, "quinn", kind="qa")
        assert qa is not None and qa.parent_id == item.id
        decide(session_factory, qa.id, "quinn", action=audit, reason_code=code[audit],
               review=review, violations={**CLEAN, "counterfeit": audit == "block"})  # fmt: skip
    now = utc_now()
    report = audit_report(session_factory, LABELS, {}, since=now - timedelta(hours=1),
                          until=now + timedelta(seconds=1))  # fmt: skip
    assert report.reviewer_accuracy.value == pytest.approx(2 / 3)
    assert report.reviewer_accuracy.audited == 3
    assert report.reviewer_accuracy.low < 2 / 3 < report.reviewer_accuracy.high
    assert report.reviewer_agreement.raw.units == 3, "pairs: reviewer against QA"
