"""The case library: vetted cases for training moderators.

Three sources, each with its policy clause and a short rationale: gold cases (answers QA
confirmed, with the QA lead's rationale), overturned appeals (the appeal decider's note) and
disagreements of a blind second review resolved by a senior (the senior's note; a missing note
falls back to the reason code's description). Retired gold cases stay out.

:func:`outcomes_now` scores every case's listing with the serving model and policy as they are
now: a case whose automatic outcome now differs from its vetted answer is flagged, so a new
policy (or model) version shows which cases change outcome before it reaches traffic.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, sessionmaker

from data.schema import Listing
from models.policy import Policy
from models.review_policy import ReviewPolicy
from models.routing import route_listing
from models.scorer import BundleScorer
from serving.second_review import escalated_items
from serving.tables import DecisionRecord, GoldCase, WorkItem
from serving.verdict_labels import verdict_labels

CaseSource = Literal["gold", "appeal_overturned", "senior_resolved"]
Outcome = Literal["agrees", "review", "differs", "unknown"]
CASE_FIELDS: Final = (
    "title",
    "description",
    "price",
    "currency",
    "category",
    "market",
    "attributes",
)
"""What a case shows of its listing: no seller id (training material travels)."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    source: CaseSource
    listing_id: str
    market: str
    listing: dict[str, Any]
    labels: list[str]
    """Labels the vetted answer found violated."""
    action: str
    reason_code: str
    policy_clause: str | None
    rationale: str
    decided_at: datetime
    policy_version: str
    """The policy the case's listing was decided under."""
    model_action: str
    """What the service decided automatically then."""
    now_action: str | None = None
    """What the current model and policy decide for it (None until :func:`outcomes_now`)."""
    outcome_now: Outcome = "unknown"

    @property
    def title(self) -> str:
        return str(self.listing.get("title", ""))


def list_cases(
    session_factory: sessionmaker[Session],
    review: ReviewPolicy,
    *,
    clause: str | None = None,
    market: str | None = None,
    label: str | None = None,
    include_gold: bool = True,
) -> list[Case]:
    """The library, newest first, filtered by policy clause, market and violated label; gold
    cases only with ``include_gold`` (reviewers must not learn the gold set)."""
    with session_factory() as session:
        gold = _gold(session) if include_gold else []
        cases = [*gold, *_overturned(session, review), *_resolved(session, review)]
    cases.sort(key=lambda case: (case.decided_at, case.id), reverse=True)
    return [
        case
        for case in cases
        if (clause is None or case.policy_clause == clause)
        and (market is None or case.market == market)
        and (label is None or label in case.labels)
    ]


def outcomes_now(cases: Iterable[Case], scorer: BundleScorer, policy: Policy) -> list[Case]:
    """``cases`` with what the current model and policy decide for each listing."""
    cases = list(cases)
    listings: list[Listing | None] = []
    for case in cases:
        try:
            listings.append(Listing.model_validate(case.listing | {"listing_id": case.listing_id}))
        except ValidationError:  # content stripped by retention: nothing left to score
            listings.append(None)
    scorable = [listing for listing in listings if listing is not None]
    scores = iter(scorer.score(scorable)) if scorable else iter(())
    judged = []
    for case, listing in zip(cases, listings, strict=True):
        if listing is None:
            judged.append(case)
            continue
        score = next(scores)
        routed = route_listing(
            score.probabilities, score.category,
            thresholds=scorer.card.thresholds, policy=policy, listing=listing,
        )  # fmt: skip
        judged.append(
            replace(case, now_action=routed.action, outcome_now=_compare(case, routed.action))
        )
    return judged


def _compare(case: Case, action: str) -> Outcome:
    if action == "review":
        return "review"
    return "agrees" if action == case.action else "differs"


def _listing(decision: DecisionRecord) -> dict[str, Any]:
    return {name: decision.listing[name] for name in CASE_FIELDS if name in decision.listing}


def _gold(session: Session) -> list[Case]:
    rows = session.execute(
        select(GoldCase, DecisionRecord)
        .join(DecisionRecord, GoldCase.decision_id == DecisionRecord.id)
        .where(GoldCase.retired_at.is_(None))
    ).all()
    return [
        Case(
            id=case.id,
            source="gold",
            listing_id=decision.listing_id,
            market=decision.market,
            listing=_listing(decision),
            labels=sorted(label for label, found in case.violations.items() if found),
            action=case.action,
            reason_code=case.reason_code,
            policy_clause=case.policy_clause,
            rationale=case.rationale,
            decided_at=case.created_at,
            policy_version=decision.policy_version,
            model_action=decision.action,
        )
        for case, decision in rows
    ]


def _overturned(session: Session, review: ReviewPolicy) -> list[Case]:
    rows = session.execute(
        select(WorkItem, DecisionRecord)
        .join(DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
        .where(WorkItem.kind == "appeal", WorkItem.status == "decided")
        .where(WorkItem.human_action == "allow")
    ).all()
    return [_item_case(item, decision, "appeal_overturned", review) for item, decision in rows]


def _resolved(session: Session, review: ReviewPolicy) -> list[Case]:
    second = aliased(WorkItem)
    rows = session.execute(
        select(WorkItem, DecisionRecord)
        .join(DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
        .join(second, WorkItem.parent_id == second.id)
        .where(WorkItem.kind == "senior", WorkItem.status == "decided")
        .where(second.kind == "second", second.id.not_in(escalated_items()))
    ).all()
    return [_item_case(item, decision, "senior_resolved", review) for item, decision in rows]


def _item_case(
    item: WorkItem, decision: DecisionRecord, source: CaseSource, review: ReviewPolicy
) -> Case:
    code = review.reason_codes.get(item.reason_code or "")
    found = verdict_labels(item, decision, review)
    return Case(
        id=item.id,
        source=source,
        listing_id=decision.listing_id,
        market=decision.market,
        listing=_listing(decision),
        labels=sorted(label for label, violated in found.items() if violated),
        action=item.human_action or "",
        reason_code=item.reason_code or "",
        policy_clause=item.policy_clause,
        rationale=item.note or (code.description if code is not None else ""),
        decided_at=item.decided_at or item.updated_at,
        policy_version=decision.policy_version,
        model_action=decision.action,
    )
