"""What recording a batch of decisions reads, fetched with one query per kind for the batch.

Recording one decision reads the human verdict on its content, whether a human blocked the
listing on other content, the seller's active strike points, whether the listing already carries
an active strike and the listing's active review items. Read one decision at a time, that is
five queries each; :class:`BatchLookups` reads each kind once for every listing and seller of
the batch (the sellers' active strikes, by the seller index, give both their points and the
listings already struck), then keeps the answers true as the batch's own decisions change them
(a strike added: its severity joins the seller's points; a review item opened).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from serving.tables import ACTIVE_STATUSES, HumanVerdict, Strike, WorkItem
from serving.value_lists import PerDialect

IN_LIST_CHUNK: Final = 500
"""Values per ``IN (...)``: well under SQLite's and PostgreSQL's parameter limits."""

# Built once: constructing a statement costs more than running it from the compiled cache, and
# every scoring transaction runs all three.
_VERDICTS: Final = PerDialect.build(
    lambda one_of: select(HumanVerdict).where(one_of(HumanVerdict.listing_id, "listings"))
)
_WITH_ACTIVE_ITEMS: Final = PerDialect.build(
    lambda one_of: (
        select(WorkItem.listing_id)
        .where(one_of(WorkItem.listing_id, "listings"), WorkItem.status.in_(ACTIVE_STATUSES))
        .distinct()
    )
)
_ACTIVE_STRIKES: Final = PerDialect.build(
    lambda one_of: select(Strike.seller_id, Strike.listing_id, Strike.severity).where(
        one_of(Strike.seller_id, "sellers"),
        Strike.removed_at.is_(None),
        Strike.expires_at > bindparam("now"),
    )
)
"""The batch's sellers' active strikes (by the seller index): their points and struck listings."""


@dataclass
class BatchLookups:
    """The batch's reads, answered from what was fetched (``fetch``) where still true."""

    verdicts: dict[tuple[str, str], HumanVerdict] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    """Listings a human blocked, on any content."""
    points: dict[str, int] = field(default_factory=dict)
    """Active strike points of the batch's sellers (absent: none), the batch's strikes added."""
    struck_listings: set[tuple[str, str]] = field(default_factory=set)
    """(seller, listing) pairs carrying an active strike, the batch's own included."""
    without_items: set[str] = field(default_factory=set)
    """Listings that had no active item when fetched and that the batch has not queued since."""

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
        verdicts, with_items = (
            _VERDICTS.for_session(session),
            _WITH_ACTIVE_ITEMS.for_session(session),
        )
        for chunk in _chunks(listings):
            for verdict in session.scalars(verdicts, {"listings": chunk}):
                found.verdicts[(verdict.listing_id, verdict.content_hash)] = verdict
                if verdict.action == "block":
                    found.blocked.add(verdict.listing_id)
            active.update(session.scalars(with_items, {"listings": chunk}))
        found.without_items = set(listings) - active
        in_batch = set(listings)
        strikes = _ACTIVE_STRIKES.for_session(session)
        for chunk in _chunks(sellers):
            for seller, listing, severity in session.execute(
                strikes, {"sellers": chunk, "now": now}
            ):
                found.points[seller] = found.points.get(seller, 0) + int(severity)
                if listing in in_batch:
                    found.struck_listings.add((seller, listing))
        return found

    def verdict(self, listing_id: str, content_hash: str) -> HumanVerdict | None:
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


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield values[start : start + IN_LIST_CHUNK]
