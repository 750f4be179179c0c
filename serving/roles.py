"""Roles of API keys and what each may do; one table, read by the endpoints' dependencies."""

from typing import Final, Literal, get_args

from serving.tables import KEY_ROLES

Role = Literal["pipeline", "reviewer", "senior_reviewer", "qa", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
assert ROLES == KEY_ROLES, "the table's check constraint and the roles must agree"
Permission = Literal["score", "read_decisions", "outcomes", "review", "senior", "qa", "admin"]

PERMISSIONS: Final[dict[Permission, frozenset[Role]]] = {
    "score": frozenset({"pipeline", "admin"}),
    "read_decisions": frozenset({"pipeline", "reviewer", "senior_reviewer", "admin"}),
    "outcomes": frozenset({"pipeline", "admin"}),
    "review": frozenset({"reviewer", "senior_reviewer", "admin"}),
    "senior": frozenset({"senior_reviewer", "admin"}),
    "qa": frozenset({"qa", "admin"}),
    "admin": frozenset({"admin"}),
}
"""Who may do what: ``admin`` may do everything, the others what their work needs. QA reads no
decisions or seller records: its audits are blind."""

KIND_PERMISSION: Final[dict[str, Permission]] = {
    "review": "review",
    "senior": "senior",
    "appeal": "review",
    "qa": "qa",
    "gold": "qa",
    "second": "qa",
}
"""The permission that listing or claiming items of each kind needs. Gold and second items
reach reviewers through the review queue, disguised: only QA lists them by kind."""

DEFAULT_RATE_PER_MINUTE: Final[dict[Role, int]] = {
    "pipeline": 60_000,
    "reviewer": 600,
    "senior_reviewer": 600,
    "qa": 600,
    "admin": 600,
}
"""Requests per minute per key unless the key sets its own."""


def allowed(role: str, permission: Permission) -> bool:
    return role in PERMISSIONS[permission]
