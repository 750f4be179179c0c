"""Seller account health: strikes for confirmed violations, their expiry, the penalty ladder.

A strike is added only for a *confirmed* violation: a human block (reviewer or senior), an
appeal upheld, or an automatic enforcement of a label whose enforce edge is certified (an
uncertain model must not punish sellers). One listing carries at most one active strike. A
strike counts its reason code's severity until it expires (``strikes.expire_days``) or an
overturned appeal removes it; the seller's penalty is the highest step of the policy's ladder
that their active points reach. A change of penalty is announced on the outcome feed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import ReasonCode, ReviewPolicy, StrikePolicy
from serving.decision_rows import add_dependent
from serving.outcome_events import append_event
from serving.tables import DecisionRecord, Strike, WorkItem, utc_now

NO_PENALTY: Final = "none"


@dataclass(frozen=True, slots=True)
class StrikeView:
    id: int
    listing_id: str
    labels: list[str]
    severity: int
    source: str
    created_at: datetime
    expires_at: datetime
    removed_at: datetime | None
    removed_reason: str | None

    def active(self, now: datetime) -> bool:
        return self.removed_at is None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class SellerStanding:
    seller_id: str
    points: int
    penalty: str
    strikes: list[StrikeView]


def active_points(session: Session, seller_id: str | None, now: datetime) -> int:
    """The seller's active strike points (0 for an unknown or absent seller)."""
    if seller_id is None:
        return 0
    query = select(func.coalesce(func.sum(Strike.severity), 0)).where(
        Strike.seller_id == seller_id, Strike.removed_at.is_(None), Strike.expires_at > now
    )
    return int(session.scalar(query) or 0)


def add_strike(
    session: Session,
    *,
    seller_id: str | None,
    listing_id: str,
    decision_id: str,
    item_id: str | None,
    labels: list[str],
    severity: int,
    source: str,
    policy: StrikePolicy,
    now: datetime,
) -> bool:
    """Record a confirmed violation; False when there is no seller, no severity, or the listing
    already carries an active strike."""
    if seller_id is None or severity <= 0:
        return False
    existing = session.scalars(
        select(Strike.id).where(
            Strike.seller_id == seller_id,
            Strike.listing_id == listing_id,
            Strike.removed_at.is_(None),
            Strike.expires_at > now,
        )
    ).first()
    if existing is not None:
        return False
    insert_strike(
        session,
        seller_id=seller_id,
        listing_id=listing_id,
        decision_id=decision_id,
        item_id=item_id,
        labels=labels,
        severity=severity,
        source=source,
        policy=policy,
        now=now,
        points_before=active_points(session, seller_id, now),
    )
    return True


def insert_strike(
    session: Session,
    *,
    seller_id: str,
    listing_id: str,
    decision_id: str,
    item_id: str | None,
    labels: list[str],
    severity: int,
    source: str,
    policy: StrikePolicy,
    now: datetime,
    points_before: int,
) -> int:
    """:func:`add_strike` for a caller that knows the listing carries no active strike and the
    seller's active points (``points_before``): no read. The seller's points after it."""
    add_dependent(
        session,
        Strike,
        {
            "seller_id": seller_id,
            "listing_id": listing_id,
            "decision_id": decision_id,
            "item_id": item_id,
            "labels": list(labels),
            "severity": severity,
            "source": source,
            "created_at": now,
            "expires_at": now + timedelta(days=policy.expire_days),
        },
    )
    points = points_before + severity  # the new strike is active: it expires days from now
    before = policy.penalty_at(points_before)
    _announce_change(session, seller_id, before, policy, now, f"strike on {listing_id}", points)
    return points


def remove_strikes(
    session: Session,
    seller_id: str | None,
    listing_id: str,
    *,
    reason: str,
    policy: StrikePolicy,
    now: datetime,
    item_id: str | None = None,
) -> int:
    """Lift the listing's active strikes (an overturned appeal), or only the one that item
    ``item_id``'s block gave; how many were lifted."""
    if seller_id is None:
        return 0
    before = policy.penalty_at(active_points(session, seller_id, now))
    query = select(Strike).where(
        Strike.seller_id == seller_id,
        Strike.listing_id == listing_id,
        Strike.removed_at.is_(None),
    )
    if item_id is not None:
        query = query.where(Strike.item_id == item_id)
    strikes = session.scalars(query).all()
    for strike in strikes:
        strike.removed_at, strike.removed_reason = now, reason
    session.flush()
    _announce_change(session, seller_id, before, policy, now, f"strike lifted on {listing_id}")
    return len(strikes)


def seller_standing(
    session_factory: sessionmaker[Session], seller_id: str, policy: StrikePolicy
) -> SellerStanding:
    """The seller's points, current penalty and every strike, newest first."""
    now = utc_now()
    with session_factory() as session:
        rows = session.scalars(
            select(Strike).where(Strike.seller_id == seller_id).order_by(Strike.id.desc())
        ).all()
        strikes = [
            StrikeView(
                id=row.id,
                listing_id=row.listing_id,
                labels=list(row.labels),
                severity=row.severity,
                source=row.source,
                created_at=row.created_at,
                expires_at=row.expires_at,
                removed_at=row.removed_at,
                removed_reason=row.removed_reason,
            )
            for row in rows
        ]
    points = sum(strike.severity for strike in strikes if strike.active(now))
    return SellerStanding(seller_id, points, policy.penalty_at(points), strikes)


def apply_human_decision(
    session: Session,
    item: WorkItem,
    decision: DecisionRecord,
    verdict: tuple[str, str, ReasonCode],
    reviewer: str,
    review: ReviewPolicy,
    at: datetime,
) -> None:
    """A human block strikes the seller; an appeal's outcome upholds or lifts the strike.

    ``verdict``: (action, reason code, its spec).
    """
    action, reason_code, code = verdict
    if action == "block":
        labels = list(code.labels) or [
            label for label, band in decision.bands.items() if band != "allow"
        ]
        add_strike(
            session,
            seller_id=item.seller_id,
            listing_id=item.listing_id,
            decision_id=decision.id,
            item_id=item.id,
            labels=labels,
            severity=code.severity,
            source="appeal" if item.kind == "appeal" else "human",
            policy=review.strikes,
            now=at,
        )
    elif item.kind == "appeal":
        remove_strikes(
            session,
            item.seller_id,
            item.listing_id,
            reason=f"appeal overturned by {reviewer}",
            policy=review.strikes,
            now=at,
        )
    if item.kind == "appeal":
        append_event(
            session,
            "appeal_outcome",
            listing_id=item.listing_id,
            seller_id=item.seller_id,
            item_id=item.id,
            at=at,
            payload={
                "outcome": "upheld" if action == "block" else "overturned",
                "decided_by": reviewer,
                "reason_code": reason_code,
            },
        )


def _announce_change(
    session: Session,
    seller_id: str,
    before: str,
    policy: StrikePolicy,
    now: datetime,
    why: str,
    points: int | None = None,
) -> None:
    """A ``penalty`` event when the seller's penalty is no longer ``before``; ``points``: the
    seller's active points where the caller knows them (else read)."""
    if points is None:
        points = active_points(session, seller_id, now)
    after = policy.penalty_at(points)
    if after != before:
        append_event(
            session,
            "penalty",
            listing_id=None,
            seller_id=seller_id,
            item_id=None,
            at=now,
            payload={"seller_id": seller_id, "from": before, "to": after, "points": points,
                     "because": why},
        )  # fmt: skip
