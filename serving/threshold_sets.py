"""Threshold sets stored once (``threshold_sets``): what a decision's answer shows of its
model's band edges and promises, keyed by the decision's model version and threshold set.

The recording transaction stores a set the first time a decision names it (one primary-key
read per new set and process, none after its commit); answers read it back through a cache of
the sets this process has seen. A set never changes once stored.
"""

from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.orm import Session

from serving.tables import ThresholdSetRecord, utc_now

SetKey = tuple[str, str]
"""(model version, threshold set id)."""
_WRITTEN: Final = "listingguard.threshold_sets_written"
_IN_DATABASE: set[tuple[str, str, str]] = set()
"""(database URL, model version, set id) known to be committed: no read is needed to record
another decision with them there."""
_EDGES: dict[SetKey, dict[str, Any]] = {}


def ensure_stored(session: Session, key: SetKey, edges: dict[str, Any]) -> None:
    """Store the set ``key`` in this transaction unless it is stored already."""
    if (_database(session), *key) in _IN_DATABASE:
        return
    if session.get(ThresholdSetRecord, key) is None:
        model_version, threshold_set_id = key
        record = ThresholdSetRecord(
            model_version=model_version,
            threshold_set_id=threshold_set_id,
            edges=edges,
            created_at=utc_now(),
        )
        session.add(record)
    session.info.setdefault(_WRITTEN, set()).add((_database(session), *key))
    _EDGES.setdefault(key, edges)


def edges_of(session: Session, key: SetKey) -> dict[str, Any]:
    """The stored edges of the set ``key`` (cached: a set never changes)."""
    edges = _EDGES.get(key)
    if edges is None:
        record = session.get(ThresholdSetRecord, key)
        if record is None:
            raise LookupError(f"threshold set {key[1]} of model {key[0]} is not stored")
        edges = _EDGES[key] = dict(record.edges)
    return edges


def _database(session: Session) -> str:
    return str(session.get_bind().engine.url)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    _IN_DATABASE.update(session.info.pop(_WRITTEN, ()))


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
