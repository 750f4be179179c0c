"""Factories for test objects: valid defaults, any field overridable by keyword."""

import dataclasses
import uuid
from typing import Any

from models.review_policy import AuditPolicy, PriorityWeights, Urgency
from serving.decision_store import NewDecision
from serving.tables import WorkItem, utc_now

NO_AUDIT = AuditPolicy(rates={}, gold_rate=0.0, second_review_rate=0.0)
"""Factories draw nothing for QA unless a test asks: counts of items stay exact."""


def make_new_decision(**overrides: Any) -> NewDecision:
    """A valid ``allow`` decision for a fresh listing; keywords replace any field.

    ``listing_id`` and ``title`` also flow into the stored listing document unless ``listing``
    itself is given.
    """
    listing_id = overrides.pop("listing_id", f"listing-{uuid.uuid4().hex[:12]}")
    title = overrides.pop("title", "Hand-stitched leather wallet")
    listing = {
        "listing_id": listing_id,
        "title": title,
        "description": "Brown full-grain leather, six card slots.",
        "price": 39.0,
        "currency": "USD",
        "market": "US",
    }
    defaults = NewDecision(
        idempotency_key=uuid.uuid4().hex,
        listing_id=listing_id,
        content_hash=uuid.uuid4().hex,
        request_id=f"req-{uuid.uuid4().hex[:16]}",
        market="US",
        listing=listing,
        scores={"fraud": 0.02, "counterfeit": 0.05, "regulated": 0.01},
        bands={"fraud": "allow", "counterfeit": "allow", "regulated": "allow"},
        regulated_category=None,
        category_scores={"weapons": 0.01, "alcohol": 0.02},
        action="allow",
        explanation={"reasons": {}, "rules": [], "category_label": "regulated"},
        model_version="baseline-tfidf@3",
        threshold_set_id="thresholds-2026-01",
        policy_version="policy-v1",
        thresholds={},
        audit=NO_AUDIT,
    )
    return dataclasses.replace(defaults, **overrides)


def urgency(risk: float = 0.55, *, sla_hours: float = 24.0, **factors: float) -> Urgency:
    """An urgency with the default weights; ``risk`` and any other factor given."""
    return Urgency(
        factors={"risk": risk, **factors},
        weights=PriorityWeights().as_hours(),
        sla_hours=sla_hours,
    )


def make_review_decision(*, risk: float = 0.55, **overrides: Any) -> NewDecision:
    """A ``review`` decision: counterfeit probability between its allow and enforce thresholds;
    ``risk`` sets its urgency (unless ``urgency`` is given)."""
    review: dict[str, Any] = {
        "action": "review",
        "scores": {"fraud": 0.02, "counterfeit": 0.55, "regulated": 0.01},
        "bands": {"fraud": "allow", "counterfeit": "review", "regulated": "allow"},
        "explanation": {"rules": ["counterfeit review -> review"], "clause": "bands.review"},
        "urgency": urgency(risk),
    }
    return make_new_decision(**(review | overrides))


def make_work_item(
    decision_id: str, listing_id: str, status: str, kind: str = "review"
) -> WorkItem:
    """A queue item of ``kind`` pointing at a stored decision, due and ordered now."""
    now = utc_now()
    return WorkItem(
        kind=kind,
        decision_id=decision_id,
        listing_id=listing_id,
        status=status,
        priority=0.5,
        priority_factors={},
        due_at=now,
        order_at=now,
        created_at=now,
        updated_at=now,
    )
