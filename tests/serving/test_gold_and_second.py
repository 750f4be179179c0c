"""Gold cases mixed into reviewers' queues, and blind second reviews with senior resolution."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import AuditPolicy, ReviewPolicy
from serving.decision_store import record_decision
from serving.errors import (
    GoldCaseExistsError,
    IllegalTransitionError,
    InvalidReviewError,
)
from serving.gold_set import create_gold_case, gold_accuracy, list_gold_cases, retire_gold_case
from serving.kpis import queue_kpis
from serving.review_actions import claim_next, decide, escalate, release
from serving.review_queue import as_review_item, count_items, get_item, item_history, list_items
from serving.second_review import DISAGREEMENT, double_review_agreement
from serving.seller_health import seller_standing
from serving.settings import Settings
from serving.tables import HumanVerdict, OutcomeEvent, Strike, utc_now
from tests.factories import make_new_decision, make_review_decision
from tests.serving.http_checks import as_, error_of, keys_of, open_client, policy_with_audit
from tests.serving.review_steps import REVIEW, claim, decide_as

LABELS = ["fraud", "counterfeit", "regulated"]
GOLDEN = ReviewPolicy(audit=AuditPolicy(rates={}, gold_rate=1.0, second_review_rate=0.0))
TWICE = ReviewPolicy(audit=AuditPolicy(rates={}, gold_rate=0.0, second_review_rate=1.0))
AUDIT_ALLOWS = AuditPolicy(rates={"auto_allow": 1.0}, gold_rate=0.0, second_review_rate=0.0)


def _qa_confirmed_block(session_factory: sessionmaker[Session], listing_id: str) -> str:
    """An automatic allow that QA (quinn) found to be a fraud: the decided qa item's id."""
    record_decision(session_factory, make_new_decision(listing_id=listing_id, audit=AUDIT_ALLOWS))
    audit = claim(session_factory, "quinn", kind="qa")
    decide(
        session_factory, audit.id, "quinn", action="block", reason_code="scam-or-fraud",
        review=REVIEW, violations={**dict.fromkeys(LABELS, False), "fraud": True},
    )  # fmt: skip
    return audit.id


def _window() -> dict[str, object]:
    now = utc_now()
    return {"since": now - timedelta(hours=1), "until": now + timedelta(minutes=1)}


def test_a_gold_case_is_served_as_a_review_item_and_counts_only_for_gold_accuracy(
    session_factory: sessionmaker[Session],
) -> None:
    source = _qa_confirmed_block(session_factory, "gold-1")
    case = create_gold_case(
        session_factory, source, rationale="fake escrow link", created_by="lead", review=REVIEW
    )
    assert (case.action, case.violations["fraud"], case.source) == ("block", True, "qa")
    record_decision(session_factory, make_review_decision(listing_id="real-1"))

    assert claim_next(session_factory, "quinn", review=GOLDEN).listing_id == "real-1", (  # type: ignore[union-attr]
        "never served to the one who gave the answer"
    )
    served = claim_next(session_factory, "bo", review=GOLDEN)
    assert served is not None and served.kind == "gold" and served.listing_id == "gold-1"
    seen = as_review_item(served)
    assert (seen.kind, seen.parent_id, seen.status) == ("review", None, "claimed")
    decide(session_factory, served.id, "bo", action="allow", reason_code="no-violation",
           review=GOLDEN)  # fmt: skip
    assert claim_next(session_factory, "bo", review=GOLDEN) is None, (
        "bo has seen the only case; quinn holds the only real item"
    )

    with session_factory() as session:
        verdicts = session.scalars(
            select(HumanVerdict).where(HumanVerdict.listing_id == "gold-1")
        ).all()
        assert verdicts == [], "neither the QA verdict nor the gold answer sets the answer"
        events = session.scalar(
            select(func.count()).select_from(OutcomeEvent).where(OutcomeEvent.item_id == served.id)
        )
        strikes = session.scalar(select(func.count()).select_from(Strike))
    assert (events, strikes) == (0, 0)
    [bo] = gold_accuracy(session_factory, **_window())  # type: ignore[arg-type]
    assert (bo.reviewer, bo.answered, bo.correct, bo.accuracy.value) == ("bo", 1, 0, 0.0)
    assert bo.accuracy.high > 0.5, "one answer says little: the exact interval is wide"
    kpis = queue_kpis(session_factory, **_window())  # type: ignore[arg-type]
    assert kpis.decided == 0, "gold and qa items are no human decisions of the period's traffic"
    [listed] = list_gold_cases(session_factory)
    assert (listed.served, listed.answered, listed.correct) == (1, 1, 0)


def test_a_gold_item_released_escalated_or_lapsed_closes(
    session_factory: sessionmaker[Session],
) -> None:
    source = _qa_confirmed_block(session_factory, "gold-2")
    create_gold_case(session_factory, source, rationale="r", created_by="lead", review=REVIEW)
    for reviewer, leave in [("ana", "release"), ("bo", "escalate"), ("cy", "lapse")]:
        item = claim_next(session_factory, reviewer, review=GOLDEN, lease_seconds=1)
        assert item is not None and item.kind == "gold"
        if leave == "release":
            release(session_factory, item.id, reviewer)
        elif leave == "escalate":
            escalate(session_factory, item.id, reviewer, reason="unsure", review=GOLDEN)
        else:
            list_items(session_factory, now=utc_now() + timedelta(seconds=5))  # sweeps
        closed = get_item(session_factory, item.id)
        assert closed is not None and closed.status == "withdrawn", leave
    assert count_items(session_factory, kind="gold", status="open") == 0
    assert count_items(session_factory, kind="senior") == 0, "a gold case is not real work"


def test_gold_cases_come_only_from_decided_confirmed_answers_once(
    session_factory: sessionmaker[Session],
) -> None:
    record_decision(session_factory, make_review_decision(listing_id="plain"))
    item = claim(session_factory, "ana")
    with pytest.raises(InvalidReviewError, match="gold cases come from decided"):
        create_gold_case(session_factory, item.id, rationale="r", created_by="l", review=REVIEW)
    record_decision(session_factory, make_new_decision(listing_id="open-qa", audit=AUDIT_ALLOWS))
    [audit] = list_items(session_factory, kind="qa")
    with pytest.raises(IllegalTransitionError):
        create_gold_case(session_factory, audit.id, rationale="r", created_by="l", review=REVIEW)
    source = _qa_confirmed_block(session_factory, "gold-3")
    case = create_gold_case(session_factory, source, rationale="r", created_by="l", review=REVIEW)
    with pytest.raises(GoldCaseExistsError):
        create_gold_case(session_factory, source, rationale="r", created_by="l", review=REVIEW)
    retire_gold_case(session_factory, case.id, actor="lead")
    assert list_gold_cases(session_factory) == []
    assert claim_next(session_factory, "bo", review=GOLDEN) is None, "retired: not served"


def test_a_second_review_is_blind_and_a_disagreement_goes_to_a_senior(
    session_factory: sessionmaker[Session],
) -> None:
    listing = make_review_decision(listing_id="twice").listing | {"seller_id": "seller-2"}
    record_decision(session_factory, make_review_decision(listing_id="twice", listing=listing))
    first = claim(session_factory, "ana")
    decide(session_factory, first.id, "ana", action="block", reason_code="violation-confirmed",
           review=TWICE)  # fmt: skip
    assert claim_next(session_factory, "ana", review=TWICE) is None, "not one's own decision"
    second = claim_next(session_factory, "bo", review=TWICE)
    assert second is not None and (second.kind, second.parent_id) == ("second", first.id)
    assert as_review_item(second).parent_id is None, "the first review is not shown"
    assert seller_standing(session_factory, "seller-2", REVIEW.strikes).points == 2

    decide(session_factory, second.id, "bo", action="allow", reason_code="no-violation",
           review=TWICE)  # fmt: skip
    with session_factory() as session:
        verdict = session.scalars(select(HumanVerdict)).one()
    assert (verdict.action, verdict.decided_by) == ("block", "ana"), "a second opinion measures"
    senior = claim(session_factory, "sam", kind="senior")
    assert senior.parent_id == second.id
    opened = item_history(session_factory, senior.id)[0]
    assert opened.reason is not None and opened.reason.startswith(DISAGREEMENT)
    decide_as(session_factory, senior.id, "sam", "allow")
    with session_factory() as session:
        verdict = session.scalars(select(HumanVerdict)).one()
    assert (verdict.action, verdict.decided_by) == ("allow", "sam"), "the senior resolves"
    assert seller_standing(session_factory, "seller-2", REVIEW.strikes).points == 0, (
        "the block's strike is lifted"
    )
    pairs = double_review_agreement(session_factory, **_window())  # type: ignore[arg-type]
    assert pairs.raw.units == 1 and pairs.raw.value is None, "hidden below 30 pairs"


def test_agreeing_second_reviews_open_nothing_and_pair_up(
    session_factory: sessionmaker[Session],
) -> None:
    for n in range(3):
        record_decision(session_factory, make_review_decision(listing_id=f"pair-{n}"))
        first = claim(session_factory, "ana")
        decide(session_factory, first.id, "ana", action="block",
               reason_code="violation-confirmed", review=TWICE)  # fmt: skip
        second = claim(session_factory, "bo")
        assert second.kind == "second"
        decide(session_factory, second.id, "bo", action="block",
               reason_code="violation-confirmed", review=TWICE)  # fmt: skip
    assert count_items(session_factory, kind="senior") == 0
    assert count_items(session_factory, kind="second", status="decided") == 3
    pairs = double_review_agreement(session_factory, **_window())  # type: ignore[arg-type]
    assert pairs.raw.units == 3


@pytest.fixture
def gold_client(demo_bundle: Path, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app with every automatic allow audited and every review claim serving gold."""
    policy = policy_with_audit(
        tmp_path, rates={"auto_allow": 1.0}, gold_rate=1.0, second_review_rate=0.0
    )
    settings = Settings(bundle=demo_bundle, database_url=database_url, policy=str(policy))
    with open_client(settings) as test_client:
        yield test_client


def test_gold_over_http_is_indistinguishable_to_reviewers(gold_client: TestClient) -> None:
    client, keys = gold_client, keys_of(gold_client)
    listing = {"listing_id": "g-1", "title": "Hand-stitched leather wallet", "price": 40.0}
    assert client.post("/v1/score", json=listing).json()["action"] == "allow"
    audit = client.post("/v1/queue/claim", json={"kind": "qa"}, headers=as_(keys["quinn"]))
    verdict = {
        "action": "allow", "reason_code": "no-violation",
        "violations": dict.fromkeys(LABELS, False),
    }  # fmt: skip
    done = client.post(f"/v1/queue/{audit.json()['id']}/verdict", json=verdict,
                       headers=as_(keys["quinn"]))  # fmt: skip
    assert done.status_code == 200, done.text
    refused = client.post("/v1/qa/gold", json={"item_id": done.json()["id"], "rationale": "ok"},
                          headers=as_(keys["ana"]))  # fmt: skip
    assert refused.status_code == 403, "reviewers may not make gold cases"
    made = client.post("/v1/qa/gold", json={"item_id": done.json()["id"], "rationale": "ok"},
                       headers=as_(keys["quinn"]))  # fmt: skip
    assert made.status_code == 201, made.text
    again = client.post("/v1/qa/gold", json={"item_id": done.json()["id"], "rationale": "ok"},
                        headers=as_(keys["quinn"]))  # fmt: skip
    assert again.status_code == 409

    claimed = client.post("/v1/queue/claim", json={"kind": "review"}, headers=as_(keys["ana"]))
    body = claimed.json()
    assert (body["kind"], body["parent_id"], body["listing_id"]) == ("review", None, "g-1")
    read = client.get(f"/v1/queue/{body['id']}", headers=as_(keys["ana"])).json()
    assert read["kind"] == "review" and read["scores"], "shown like any review item"
    assert client.get(f"/v1/queue/{body['id']}", headers=as_(keys["bo"])).status_code == 404
    assert client.get(f"/v1/queue/{body['id']}", headers=as_(keys["quinn"])).json()["kind"] == (
        "gold"
    )
    assert client.get("/v1/queue?kind=gold", headers=as_(keys["ana"])).status_code == 403
    decision = {"action": "allow", "reason_code": "no-violation"}
    answered = client.post(f"/v1/queue/{body['id']}/decision", json=decision,
                           headers=as_(keys["ana"]))  # fmt: skip
    assert answered.status_code == 200 and answered.json()["kind"] == "review"

    report = client.get("/v1/qa/estimates", headers=as_(keys["quinn"])).json()
    assert report["gold_accuracy"] == [
        {"reviewer": "ana", "answered": 1, "correct": 1, "accuracy": report["gold_accuracy"][0][
            "accuracy"]}
    ]  # fmt: skip
    assert report["gold_accuracy"][0]["accuracy"]["value"] == 1.0
    cases = client.get("/v1/qa/gold", headers=as_(keys["quinn"])).json()["cases"]
    assert [(c["served"], c["answered"], c["correct"]) for c in cases] == [(1, 1, 1)]
    missing = client.post("/v1/qa/gold/" + "0" * 32 + "/retire", headers=as_(keys["quinn"]))
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
