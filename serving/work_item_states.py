"""The work item's state machine as data: which event moves which status where.

``release``, ``expire`` (a claim's lease ran out) and ``hold_due`` (a hold's time came) return an
item to ``open``: they are moves back into the queue, not closing states. Closing states are
``decided``, ``superseded`` (re-scored to a decision that needs no human) and ``withdrawn`` (the
listing was taken down). ``escalated`` stays active until the senior item it opened is decided
(``resolve``). Any move not listed here is illegal (the API answers 409).
"""

from typing import Final

from serving.errors import IllegalTransitionError

TRANSITIONS: Final[dict[str, dict[str, str]]] = {
    "claim": {"open": "claimed"},
    "release": {"claimed": "open", "held": "open"},
    "expire": {"claimed": "open"},
    "hold": {"claimed": "held"},
    "hold_due": {"held": "open"},
    "decide": {"claimed": "decided"},
    "escalate": {"claimed": "escalated"},
    "resolve": {"escalated": "decided"},
    "supersede": {"open": "superseded", "held": "superseded"},
    "withdraw": {
        "open": "withdrawn",
        "claimed": "withdrawn",
        "held": "withdrawn",
        "escalated": "withdrawn",
    },
}

ESCALATES_TO: Final = {"review": "senior", "second": "senior"}
"""Kinds whose items can be escalated, and the kind of queue they go to (a second reviewer
escalates like any reviewer: the item looks like a review item to them)."""


def next_status(event: str, status: str, *, kind: str) -> str:
    """The status ``event`` moves an item of ``kind`` in ``status`` to; raises if illegal."""
    moves = TRANSITIONS.get(event, {})
    if status not in moves or (event == "escalate" and kind not in ESCALATES_TO):
        allowed = ", ".join(sorted(moves)) or "none"
        if event == "escalate" and kind not in ESCALATES_TO:
            allowed = f"claimed items of kind {', '.join(ESCALATES_TO)}"
        raise IllegalTransitionError(event, status, allowed)
    return moves[status]
