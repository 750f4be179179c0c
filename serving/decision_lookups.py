"""What recording a batch of decisions reads, fetched in one query for the batch.

Recording one decision reads the human verdict on its content, whether a human blocked the
listing on other content, the seller's active strike points, whether the listing already carries
an active strike and the listing's active review items. Read one decision at a time, that is
five queries each; :class:`BatchLookups` reads every kind for every listing and seller of the
batch in one ``UNION ALL`` (the sellers' active strikes, by the seller index, give both their
points and the listings already struck; one statement instead of three saved 0.6 ms of a
single-listing write on PostgreSQL, two round trips and most of it SQLAlchemy's per-statement
work: docs/results.md), then keeps the answers true as the batch's own decisions change them
(a strike added: its severity joins the seller's points; a review item opened).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from serving.decision_rows import write_everything
from serving.tables import (
    ACTIVE_STATUSES,
    CLOSED_UNDECIDED_STATUSES,
    HumanVerdict,
    Strike,
    WorkItem,
)
from serving.value_lists import OneOf, PerDialect

IN_LIST_CHUNK: Final = 500
"""Values per ``IN (...)``: well under SQLite's and PostgreSQL's parameter limits."""

_VERDICT, _ITEM, _STRIKE = "verdict", "item", "strike"


def _blank(type_: TypeEngine[Any]) -> ColumnElement[Any]:
    return cast(null(), type_)


def _lookups(one_of: OneOf) -> CompoundSelect[*tuple[Any, ...]]:
    """The three reads as one statement (one round trip, one execution): a row per verdict, per
    listing with an active item and per active strike of the batch's sellers, each tagged with
    its kind; a kind's row leaves the others' columns empty. The first branch types the result."""
    verdicts = select(
        literal_column(f"'{_VERDICT}'").label("kind"),
        HumanVerdict.listing_id,
        HumanVerdict.content_hash,
        HumanVerdict.action,
        HumanVerdict.item_id,
        HumanVerdict.decided_by,
        HumanVerdict.reason_code,
        HumanVerdict.decided_at,
        _blank(Strike.seller_id.type).label("seller_id"),
        _blank(Strike.severity.type).label("severity"),
    ).where(one_of(HumanVerdict.listing_id, "listings"))
    no_verdict = [_blank(column.type) for column in verdicts.selected_columns[2:8]]
    no_strike = [_blank(Strike.seller_id.type), _blank(Strike.severity.type)]
    with_items = (
        select(literal_column(f"'{_ITEM}'"), WorkItem.listing_id, *no_verdict, *no_strike)
        .where(one_of(WorkItem.listing_id, "listings"), WorkItem.status.in_(ACTIVE_STATUSES))
        .distinct()
    )
    strike = [Strike.seller_id, Strike.severity]
    strikes = select(literal_column(f"'{_STRIKE}'"), Strike.listing_id, *no_verdict, *strike).where(
        one_of(Strike.seller_id, "sellers"),
        Strike.removed_at.is_(None),
        Strike.expires_at > bindparam("now"),
    )
    return union_all(verdicts, with_items, strikes)


# Built once: constructing a statement costs more than running it from the compiled cache, and
# every scoring transaction runs it.
_LOOKUPS: Final = PerDialect.build(_lookups)
_ITEMS_OF_DECISIONS: Final = PerDialect.build(
    lambda one_of: select(
        WorkItem.decision_id, WorkItem.id, WorkItem.kind, WorkItem.status, WorkItem.created_at
    ).where(one_of(WorkItem.decision_id, "decisions"))
)


@dataclass(slots=True)
class DecisionItems:
    """What a stored decision's replay needs of the work items pointing at it."""

    newest_review: str | None = None
    """Its newest review item (None: none); of two created at the same time, the one not
    closed undecided (the order :func:`serving.decision_store.get_decision` reads)."""
    decided: str | None = None
    """An item of it a human decided (None: none)."""
    newest_order: tuple[datetime, bool] | None = None


@dataclass(frozen=True, slots=True)
class KnownVerdict:
    """A human verdict as the batch read it (:class:`serving.tables.HumanVerdict`'s fields)."""

    listing_id: str
    content_hash: str
    action: str
    item_id: str
    decided_by: str
    reason_code: str
    decided_at: datetime


@dataclass
class BatchLookups:
    """The batch's reads, answered from what was fetched (``fetch``) where still true."""

    verdicts: dict[tuple[str, str], KnownVerdict] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    """Listings a human blocked, on any content."""
    points: dict[str, int] = field(default_factory=dict)
    """Active strike points of the batch's sellers (absent: none), the batch's strikes added."""
    struck_listings: set[tuple[str, str]] = field(default_factory=set)
    """(seller, listing) pairs carrying an active strike, the batch's own included."""
    without_items: set[str] = field(default_factory=set)
    """Listings that had no active item when fetched and that the batch has not queued since."""
    decision_items: dict[str, DecisionItems] = field(default_factory=dict)
    """Stored decisions about to be replayed: their items, as read (:meth:`read_items_of`)."""
    requeued: set[str] = field(default_factory=set)
    """Listings whose items the batch may have changed: their decisions' items are read again."""

    @classmethod
    def fetch(
        cls,
        session: Session,
        listing_ids: Iterable[str],
        seller_ids: Iterable[str | None],
        now: datetime,
    ) -> "BatchLookups":
        listings = sorted(set(listing_ids))
        sellers = sorted({seller for seller in seller_ids if seller is not None})
        found = cls()
        active: set[str] = set()
        in_batch = set(listings)
        statement = _LOOKUPS.for_session(session)
        write_everything(session)  # a Core read: it must see the transaction's pending rows
        connection = session.connection()
        for chunk in range(0, max(len(listings), len(sellers), 1), IN_LIST_CHUNK):
            values = {
                "listings": listings[chunk : chunk + IN_LIST_CHUNK],
                "sellers": sellers[chunk : chunk + IN_LIST_CHUNK],
                "now": now,
            }
            for kind, listing, *verdict, seller, severity in connection.execute(statement, values):
                if kind == _ITEM:
                    active.add(listing)
                elif kind == _STRIKE:
                    found.points[seller] = found.points.get(seller, 0) + int(severity)
                    if listing in in_batch:
                        found.struck_listings.add((seller, listing))
                else:
                    known = KnownVerdict(listing, *verdict)
                    found.verdicts[(listing, known.content_hash)] = known
                    if known.action == "block":
                        found.blocked.add(listing)
        found.without_items = set(listings) - active
        return found

    def read_items_of(self, session: Session, decision_ids: Iterable[str]) -> None:
        """The work items pointing at stored decisions ``decision_ids``, in one read (per
        ``IN_LIST_CHUNK`` decisions) instead of two per decision replayed."""
        ids = sorted(set(decision_ids))
        if not ids:
            return
        statement = _ITEMS_OF_DECISIONS.for_session(session)
        write_everything(session)
        connection = session.connection()
        found = {decision_id: DecisionItems() for decision_id in ids}
        for chunk in range(0, len(ids), IN_LIST_CHUNK):
            values = {"decisions": ids[chunk : chunk + IN_LIST_CHUNK]}
            for decision_id, item_id, kind, status, created_at in connection.execute(
                statement, values
            ):
                items = found[decision_id]
                order = (created_at, status not in CLOSED_UNDECIDED_STATUSES)
                if kind == "review" and (items.newest_order is None or order > items.newest_order):
                    items.newest_review, items.newest_order = item_id, order
                if status == "decided" and items.decided is None:
                    items.decided = item_id
        self.decision_items.update(found)

    def items_of(self, decision_id: str, listing_id: str) -> DecisionItems | None:
        """``decision_id``'s items as read, unless the batch has queued its listing since
        (None: read them again)."""
        if listing_id in self.requeued:
            return None
        return self.decision_items.get(decision_id)

    def verdict(self, listing_id: str, content_hash: str) -> KnownVerdict | None:
        return self.verdicts.get((listing_id, content_hash))

    def seller_points(self, seller_id: str | None) -> int:
        return 0 if seller_id is None else self.points.get(seller_id, 0)

    def listing_struck(self, seller_id: str, listing_id: str) -> bool:
        return (seller_id, listing_id) in self.struck_listings

    def struck(self, seller_id: str, listing_id: str, points: int) -> None:
        """The batch struck ``listing_id``; its seller now has ``points`` active points."""
        self.struck_listings.add((seller_id, listing_id))
        self.points[seller_id] = points

    def may_have_items(self, listing_id: str) -> bool:
        return listing_id not in self.without_items

    def queued(self, listing_id: str) -> None:
        """The batch may have opened an item for ``listing_id``: look its items up from now."""
        self.without_items.discard(listing_id)
        self.requeued.add(listing_id)
