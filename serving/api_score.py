"""Scoring and decision endpoints."""

import dataclasses
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from data.schema import Listing
from serving.api_errors import ApiError, ErrorResponse
from serving.auth import AUTH_ERRORS, Caller, check_permission, requires
from serving.decision_store import StoredDecision, get_decision
from serving.deps import AnyCaller, RequestIdDep, ServiceState, StateDep
from serving.review_queue import holds_measurement
from serving.schemas import BatchScoreRequest, BatchScoreResponse, DecisionOut, StoredDecisionOut
from serving.scoring import answers, decide_listings, decision_out, known_answers

router = APIRouter(prefix="/v1", tags=["scoring"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (404, 413, 415, 422, 503)},
    **AUTH_ERRORS,
}
SCORES = [Depends(requires("score"))]


@router.post("/score", response_model=DecisionOut, responses=ERRORS, dependencies=SCORES)
async def score_listing(listing: Listing, state: StateDep, request_id: RequestIdDep) -> Response:
    """Score one listing: calibrated probability and band per label, action, reasons."""
    return _answer_json((await _score_and_record([listing], state, request_id))[0])


@router.post(
    "/score/batch", response_model=BatchScoreResponse, responses=ERRORS, dependencies=SCORES
)
async def score_batch(
    body: BatchScoreRequest, state: StateDep, request_id: RequestIdDep
) -> Response:
    """Score up to ``LISTINGGUARD_MAX_BATCH_SIZE`` listings in one call; results keep order.

    All or nothing: one invalid listing refuses the whole batch with a 422 naming its index,
    listing id and field, and nothing is scored; a valid batch is recorded in one transaction.
    """
    limit = state.settings.max_batch_size
    if len(body.listings) > limit:
        raise ApiError(
            422,
            "batch_too_large",
            f"listings: {len(body.listings)} listings exceed the batch limit of {limit}",
            field="listings",
            limit=limit,
        )
    return _answer_json({"results": await _score_and_record(body.listings, state, request_id)})


def _answer_json(content: Any) -> Response:
    """Answers (:func:`serving.scoring.decision_fields`) as the JSON pydantic writes for the
    response model (UTC times end in ``Z``), without building the model for every listing."""
    return Response(orjson.dumps(content, option=orjson.OPT_UTC_Z), media_type="application/json")


async def _score_and_record(
    listings: list[Listing], state: ServiceState, request_id: str
) -> list[dict[str, Any]]:
    """A request whose every listing was already scored (a retry) is answered from the store
    without inference; any other is scored and recorded whole, in order, in one transaction
    (shared with the requests that arrived while the previous write was in flight)."""
    factory, run, scorer, policy, shadow = (
        state.session_factory,
        state.database.run,
        state.scorer,
        state.policy,
        state.shadow,
    )
    keys, known = await run(known_answers, factory, listings, scorer=scorer, policy=policy)
    if known is not None:
        state.metrics.observe_decisions(known)
        return known
    # Inference runs on the server's thread pool; only the write runs under the database
    # deadline, so a slow CPU is never reported as a database outage.
    with state.writes.scoring():  # a group being written may wait for this one's decisions
        batch = await run_in_threadpool(
            decide_listings,
            listings,
            scorer=scorer,
            policy=policy,
            request_id=request_id,
            shadow=shadow,
            keys=keys,
        )
    results = answers(await state.writes.record(batch))
    state.metrics.observe_decisions(results)
    for new, out in zip(batch, results, strict=True):
        if new.shadow is not None and not out["replayed"]:
            agrees = new.shadow.action == out["model_action"]
            state.metrics.shadow.labels(str(agrees).lower()).inc()
    return results


@router.get(
    "/decisions/{decision_id}",
    response_model=StoredDecisionOut,
    responses=ERRORS,
)
async def read_decision(decision_id: str, state: StateDep, caller: AnyCaller) -> StoredDecisionOut:
    """A stored decision with the listing as scored and everything used to decide it."""
    stored = await readable_decision(state, caller, decision_id)
    base = decision_out(stored, replayed=False).model_dump()
    return StoredDecisionOut(
        **base,
        listing=stored.listing,
        request_id=stored.request_id,
        content_hash=stored.content_hash,
    )


async def readable_decision(
    state: ServiceState, caller: Caller, decision_id: str
) -> StoredDecision:
    """The decision as ``caller`` may read it; 403 without ``read_decisions``, 404 if none."""
    check_permission(caller, "read_decisions")
    stored = await state.database.run(get_decision, state.session_factory, decision_id)
    if stored is None:
        raise ApiError(404, "not_found", f"decision {decision_id[:80]!r} does not exist")
    if not caller.may("qa") and await state.database.run(
        holds_measurement, state.session_factory, caller.name, decision_id
    ):
        # A reviewer working a gold case or a second review of this decision judges it blind:
        # the answer a human already gave stays hidden until theirs is in.
        stored = dataclasses.replace(stored, human=None, action=stored.model_action)
    return stored
