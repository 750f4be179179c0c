"""Domain exceptions of the serving persistence layer. This module imports nothing."""


class ServingError(Exception):
    """Base class of every error the serving persistence layer raises on purpose."""


class InvalidDecisionError(ServingError, ValueError):
    """A decision to record carries a field outside what the store accepts."""


class InvalidReviewError(ServingError, ValueError):
    """A work-queue argument (reviewer, action, reason code, status, paging) is out of bounds."""


class InvalidKeyError(ServingError, ValueError):
    """An API key to create or revoke is out of bounds or does not exist."""


class AppealNotAllowedError(ServingError):
    """The listing cannot be appealed: no decision, not enforced, or an appeal is open."""


class VerdictRequiredError(ServingError):
    """A qa item is closed by an audit verdict (per-label findings), not a plain decision."""

    def __init__(self, item_id: str) -> None:
        super().__init__(
            f"work item {item_id!r} is a QA audit: record its verdict with "
            f"POST /v1/queue/{item_id}/verdict (violations for every label)"
        )


class ItemNotFoundError(ServingError, LookupError):
    """No work item has the given id."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"work item {item_id[:80]!r} does not exist")
        self.item_id = item_id


class ItemNotClaimedError(ServingError):
    """A reviewer acted on an item that they do not hold a claim on."""

    def __init__(self, item_id: str, reviewer: str, holder: str | None) -> None:
        held = f"it is claimed by {holder!r}" if holder else "it is not claimed by anyone"
        super().__init__(
            f"work item {item_id!r} is not claimed by {reviewer!r}: {held}; claim it first"
        )
        self.item_id = item_id
        self.reviewer = reviewer
        self.holder = holder


class IllegalTransitionError(ServingError):
    """The item's status does not allow the requested move (e.g. deciding a decided item)."""

    def __init__(self, event: str, status: str, allowed: str) -> None:
        super().__init__(f"cannot {event} an item that is {status} (allowed from: {allowed})")
        self.event = event
        self.status = status


class ItemChangedError(ServingError):
    """Another writer changed the item between reading and updating it; reload and retry."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"work item {item_id!r} changed while it was being updated; reload it")
        self.item_id = item_id


class QueueContentionError(ServingError):
    """Claiming kept losing races to other reviewers; the caller may simply try again."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"could not claim a review item after {attempts} lost races")
        self.attempts = attempts


class DatabaseDeadlineError(ServingError):
    """Database work did not finish within the request deadline (the database is unresponsive)."""

    def __init__(self, deadline_s: float) -> None:
        super().__init__(f"the database did not answer within {deadline_s:g} s")
        self.deadline_s = deadline_s


class GoldCaseExistsError(ServingError):
    """The item is already the source of a gold case."""

    def __init__(self, item_id: str, case_id: str) -> None:
        super().__init__(f"item {item_id} is already gold case {case_id}")
        self.case_id = case_id


class GoldCaseNotFoundError(ServingError, LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no gold case {case_id}")
        self.case_id = case_id
