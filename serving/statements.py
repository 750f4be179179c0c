"""Statements of reasons: what was decided about a listing, why, and how to appeal.

The content a platform owes the affected seller for a restriction (as the EU Digital Services
Act, Art. 17, lists it): the restriction, the facts relied on, the ground (the policy clause
and reason), whether automated means detected it and whether they decided it, and the redress
open to the seller.
"""

from dataclasses import dataclass
from typing import Final

from models.review_policy import ReviewPolicy
from serving.decision_store import StoredDecision

RESTRICTIONS: Final = {
    "block": "the listing is removed from the marketplace",
    "review": "the listing is held back until a reviewer decides it",
    "allow": "no restriction: the listing stays visible",
}


@dataclass(frozen=True, slots=True)
class StatementOfReasons:
    decision_id: str
    listing_id: str
    market: str
    decided_at: str
    action: str
    restriction: str
    facts: list[str]
    ground: str
    policy_clause: str | None
    policy_version: str
    automated_detection: bool
    automated_decision: bool
    decided_by: str
    redress: str


def statement_of_reasons(
    stored: StoredDecision, review: ReviewPolicy, *, human_clause: str | None = None
) -> StatementOfReasons:
    """The statement for ``stored``; ``human_clause``: the clause the human decision cited."""
    human = stored.human
    flagged = [label for label, band in stored.bands.items() if band != "allow"]
    facts = [
        f"{label}: calibrated probability {stored.scores[label]:.2f} ({stored.bands[label]} band)"
        for label in flagged
    ] or ["no label scored outside its allow band"]
    facts += [
        f"{label}: the phrases " + ", ".join(repr(r["phrase"]) for r in reasons[:3])
        for label, reasons in stored.explanation.get("reasons", {}).items()
        if label in flagged and reasons
    ]
    facts += [f"policy rule: {rule}" for rule in stored.explanation.get("rules", [])]
    if human is not None:
        code = review.reason_codes.get(human.reason_code)
        ground = f"{human.reason_code}: {code.description if code else 'reason code of a reviewer'}"
        decided_at, decided_by = human.decided_at.isoformat(), "a human reviewer"
    else:
        ground = "automatic routing of the model's scores under the policy"
        decided_at, decided_by = stored.created_at.isoformat(), "automated means"
    return StatementOfReasons(
        decision_id=stored.id,
        listing_id=stored.listing_id,
        market=stored.market,
        decided_at=decided_at,
        action=stored.action,
        restriction=RESTRICTIONS.get(stored.action, stored.action),
        facts=facts,
        ground=ground,
        policy_clause=human_clause if human is not None else stored.explanation.get("clause"),
        policy_version=stored.policy_version,
        automated_detection=True,
        automated_decision=human is None,
        decided_by=decided_by,
        redress=review.appeal_instructions if stored.action != "allow" else "none needed",
    )
