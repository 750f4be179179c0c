"""Gold cases mixed into reviewers' queues, and blind second reviews with senior resolution."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import AuditPolicy, ReviewPolicy
from serving.case_library import list_cases
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
AUDIT_HUMANS = ReviewPolicy(audit=AuditPolicy(rates={"human": 1.0}))


def _qa_confirmed_block(session_factory: sessionmaker[Session], listing_id: str) -> str:
    """A listing sent to review that cy blocked and QA (quinn) found to be a fraud: the decided
    qa item's id."""
    record_decision(session_factory, make_review_decision(listing_id=listing_id))
    first = claim(session_factory, "cy")
    decide(session_factory, first.id, "cy", action="block", reason_code="violation-confirmed",
           review=AUDIT_HUMANS)  # fmt: skip
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

    for involved in ("quinn", "cy"):  # the answer's author, the first reviewer
        got = claim_next(session_factory, involved, review=GOLDEN)
        assert got is not None and got.kind == "review", f"{involved} is never served the case"
        release(session_factory, got.id, involved)
    assert claim_next(session_factory, "quinn", review=GOLDEN).listing_id == "real-1"  # type: ignore[union-attr]
    served = claim_next(session_factory, "bo", review=GOLDEN)
    assert served is not None and served.kind == "gold" and served.listing_id == "gold-1"
    seen = as_review_item(served)
    assert (seen.kind, seen.parent_id, seen.status) == ("review", None, "claimed")
    assert served.created_at < served.claimed_at, "it waited in the queue, as items do"  # type: ignore[operator]
    assert served.model_action == "review" and "review" in served.bands.values()
    assert served.priority_factors["risk"] == pytest.approx(0.55), "its review item's factors"
    decide(session_factory, served.id, "bo", action="allow", reason_code="no-violation",
           review=GOLDEN)  # fmt: skip
    assert claim_next(session_factory, "bo", review=GOLDEN) is None, (
        "bo has seen the only case; quinn holds the only real item"
    )

    with session_factory() as session:
        verdict = session.scalars(
            select(HumanVerdict).where(HumanVerdict.listing_id == "gold-1")
        ).one()
        assert (verdict.decided_by, verdict.action) == ("cy", "block"), "the gold answer set none"
        events = session.scalar(
            select(func.count()).select_from(OutcomeEvent).where(OutcomeEvent.item_id == served.id)
        )
        strikes = session.scalar(select(func.count()).select_from(Strike))
    assert (events, strikes) == (0, 0)
    [bo] = gold_accuracy(session_factory, **_window())  # type: ignore[arg-type]
    assert (bo.reviewer, bo.answered, bo.correct, bo.accuracy.value) == ("bo", 1, 0, 0.0)
    assert bo.accuracy.high > 0.5, "one answer says little: the exact interval is wide"
    kpis = queue_kpis(session_factory, **_window())  # type: ignore[arg-type]
    assert kpis.decided == 1, "cy's review only: gold and qa items are not traffic"
    [listed] = list_gold_cases(session_factory)
    assert (listed.served, listed.answered, listed.correct) == (1, 1, 0)


def test_a_gold_item_released_escalated_or_lapsed_closes(
    session_factory: sessionmaker[Session],
) -> None:
    source = _qa_confirmed_block(session_factory, "gold-2")
    create_gold_case(session_factory, source, rationale="r", created_by="lead", review=REVIEW)
    for reviewer, leave in [("ana", "release"), ("bo", "escalate"), ("dee", "lapse")]:
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
        seen = as_review_item(closed)
        went = ("senior" if leave == "escalate" else "review", "open", None)
        assert (seen.kind, seen.status, seen.claimed_by) == went, "as a review item would"
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


def test_only_a_disagreement_lets_a_senior_allow_lift_the_first_block(
    session_factory: sessionmaker[Session],
) -> None:
    listing = make_review_decision(listing_id="edited").listing | {"seller_id": "seller-3"}
    record_decision(session_factory, make_review_decision(listing_id="edited", listing=listing))
    decide_as(session_factory, claim(session_factory, "ana").id, "ana", "block")
    assert seller_standing(session_factory, "seller-3", REVIEW.strikes).points == 2
    edit = listing | {"title": "Hand-stitched leather wallet, new photos"}
    record_decision(session_factory, make_review_decision(listing_id="edited", listing=edit))
    item = claim(session_factory, "bo")
    escalate(session_factory, item.id, "bo", reason="unsure", review=REVIEW)
    decide_as(session_factory, claim(session_factory, "sam", kind="senior").id, "sam", "allow")
    assert seller_standing(session_factory, "seller-3", REVIEW.strikes).points == 2, (
        "allowing the edited content confirms nothing about the earlier block"
    )


def test_an_item_escalates_only_while_no_senior_item_is_open_for_its_listing(
    session_factory: sessionmaker[Session],
) -> None:
    record_decision(session_factory, make_review_decision(listing_id="busy"))
    first = claim(session_factory, "ana")
    decide(session_factory, first.id, "ana", action="block", reason_code="violation-confirmed",
           review=TWICE)  # fmt: skip
    second = claim(session_factory, "bo")
    decide(session_factory, second.id, "bo", action="allow", reason_code="no-violation",
           review=TWICE)  # fmt: skip
    assert count_items(session_factory, kind="senior", status="open") == 1
    edit = make_review_decision(listing_id="busy").listing | {"title": "new title"}
    record_decision(session_factory, make_review_decision(listing_id="busy", listing=edit))
    item = claim(session_factory, "cy")
    with pytest.raises(IllegalTransitionError, match="already before a senior"):
        escalate(session_factory, item.id, "cy", reason="unsure", review=REVIEW)


def test_an_escalated_second_review_is_no_second_opinion(
    session_factory: sessionmaker[Session],
) -> None:
    record_decision(session_factory, make_review_decision(listing_id="passed-on"))
    first = claim(session_factory, "ana")
    decide(session_factory, first.id, "ana", action="block", reason_code="violation-confirmed",
           review=TWICE)  # fmt: skip
    second = claim(session_factory, "bo")
    escalate(session_factory, second.id, "bo", reason="unsure", review=TWICE)
    decide_as(session_factory, claim(session_factory, "sam", kind="senior").id, "sam", "allow")
    pairs = double_review_agreement(session_factory, **_window())  # type: ignore[arg-type]
    assert pairs.raw.units == 0, "the senior's answer is not bo's opinion"
    assert [c.source for c in list_cases(session_factory, REVIEW)] == [], "nor a disagreement"


@pytest.fixture
def gold_client(demo_bundle: Path, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The example policy with every human decision audited and every review claim serving
    gold (when a case is left for the reviewer)."""
    policy = policy_with_audit(
        tmp_path, rates={"human": 1.0}, gold_rate=1.0, second_review_rate=0.0
    )
    settings = Settings(bundle=demo_bundle, database_url=database_url, policy=str(policy))
    with open_client(settings) as test_client:
        yield test_client


POUCH = {
    "listing_id": "g-1",
    "title": "Hand-rolling tobacco pouch",
    "description": "Hand-rolling tobacco pouch 50g, menthol. Loose tobacco, ships discreetly.",
    "price": 14.0,
}


def test_gold_over_http_is_indistinguishable_to_reviewers(gold_client: TestClient) -> None:
    client, keys = gold_client, keys_of(gold_client)
    assert client.post("/v1/score", json=POUCH).json()["action"] == "review"
    first = client.post("/v1/queue/claim", json={"kind": "review"}, headers=as_(keys["sam"]))
    block = {"action": "block", "reason_code": "prohibited-item"}
    sam = client.post(f"/v1/queue/{first.json()['id']}/decision", json=block,
                      headers=as_(keys["sam"]))  # fmt: skip
    assert sam.status_code == 200, sam.text
    audit = client.post("/v1/queue/claim", json={"kind": "qa"}, headers=as_(keys["quinn"]))
    verdict = block | {"violations": {**dict.fromkeys(LABELS, False), "regulated": True}}
    done = client.post(f"/v1/queue/{audit.json()['id']}/verdict", json=verdict,
                       headers=as_(keys["quinn"]))  # fmt: skip
    assert done.status_code == 200, done.text
    case = {"item_id": done.json()["id"], "rationale": "loose tobacco without a licence"}
    refused = client.post("/v1/qa/gold", json=case, headers=as_(keys["ana"]))
    assert refused.status_code == 403, "reviewers may not make gold cases"
    made = client.post("/v1/qa/gold", json=case, headers=as_(keys["quinn"]))
    assert made.status_code == 201, made.text
    assert client.post("/v1/qa/gold", json=case, headers=as_(keys["quinn"])).status_code == 409

    claimed = client.post("/v1/queue/claim", json={"kind": "review"}, headers=as_(keys["ana"]))
    body = claimed.json()
    assert (body["kind"], body["parent_id"], body["listing_id"]) == ("review", None, "g-1")
    assert body["model_action"] == "review" and body["scores"], "shown like any review item"
    gold_id = body["id"]
    assert client.get(f"/v1/queue/{gold_id}", headers=as_(keys["bo"])).status_code == 404
    qa_view = client.get(f"/v1/queue/{gold_id}", headers=as_(keys["quinn"])).json()
    assert qa_view["kind"] == "gold"
    looked_up = client.get(f"/v1/decisions/{body['decision_id']}", headers=as_(keys["ana"]))
    assert looked_up.json()["human_decision"] is None, "sam's answer stays hidden"
    assert looked_up.json()["action"] == "review"
    history = client.get(f"/v1/queue/{gold_id}/history", headers=as_(keys["ana"])).json()
    assert [e["event"] for e in history["history"]] == ["open", "claim"]
    released = client.post(f"/v1/queue/{gold_id}/release", json={}, headers=as_(keys["ana"]))
    assert (released.json()["kind"], released.json()["status"]) == ("review", "open")
    history = client.get(f"/v1/queue/{gold_id}/history", headers=as_(keys["ana"])).json()
    assert "withdraw" not in [e["event"] for e in history["history"]]
    again = client.post("/v1/queue/claim", json={"kind": "review"}, headers=as_(keys["ana"]))
    assert again.status_code == 204, "a case is never served to a reviewer twice"
    for kind in ("gold", "second"):
        listed = client.get(f"/v1/queue?kind={kind}", headers=as_(keys["ana"]))
        assert listed.status_code == 403, kind
        taken = client.post("/v1/queue/claim", json={"kind": kind}, headers=as_(keys["ana"]))
        assert taken.status_code == 403, kind
    wrong = client.post(f"/v1/queue/{gold_id}/verdict", json=verdict, headers=as_(keys["ana"]))
    assert wrong.status_code == 409 and "gold" not in wrong.text

    served = client.post("/v1/queue/claim", json={"kind": "review"}, headers=as_(keys["bo"]))
    allow = {"action": "allow", "reason_code": "no-violation"}
    answered = client.post(f"/v1/queue/{served.json()['id']}/decision", json=allow,
                           headers=as_(keys["bo"]))  # fmt: skip
    assert answered.status_code == 200 and answered.json()["kind"] == "review"
    report = client.get("/v1/qa/estimates", headers=as_(keys["quinn"])).json()
    [bo] = report["gold_accuracy"]
    assert (bo["reviewer"], bo["answered"], bo["correct"]) == ("bo", 1, 0)
    assert bo["accuracy"]["value"] == 0.0 and bo["accuracy"]["high"] > 0.5
    cases = client.get("/v1/qa/gold", headers=as_(keys["quinn"])).json()["cases"]
    assert [(c["served"], c["answered"], c["correct"]) for c in cases] == [(2, 1, 0)]
    missing = client.post("/v1/qa/gold/" + "0" * 32 + "/retire", headers=as_(keys["quinn"]))
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
