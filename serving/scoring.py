"""Score listings, route them through thresholds and policy, and record each decision."""

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from data.schema import Listing
from models.bundle import ModelCard
from models.policy import Policy
from models.review_policy import Urgency, parse_reach, review_urgency
from models.routing import RoutedListing, route_listing
from models.scorer import BundleScorer, ListingScore
from models.thresholds import LabelThresholds
from serving.decision_rows import AnyDecision
from serving.decision_store import (
    NewDecision,
    ShadowDecision,
    StoredDecision,
    replay_stored,
    stored_keys,
)
from serving.schemas import DecisionOut

SCORED_FIELDS = ("title", "description", "price", "currency", "market")
PROMISES: Final = ("violations_let_through", "wrong_enforcements")
"""The promises of a guarantee, in the order of :class:`serving.schemas.GuaranteeOut`."""
LOGGER = logging.getLogger("listingguard.shadow")


class _PolicyKeys:
    """A policy's content id and the attributes it reads, derived once per policy object
    (every decision's idempotency key needs both; deriving them hashes the whole policy)."""

    def __init__(self, policy: Policy) -> None:
        self.policy, self.content_id = policy, policy.content_id()
        self.attributes_read = policy.attributes_read()


_POLICY_KEYS: dict[int, _PolicyKeys] = {}
MAX_POLICIES_KEPT: Final = 8


def _policy_keys(policy: Policy) -> _PolicyKeys:
    kept = _POLICY_KEYS.get(id(policy))
    if kept is None or kept.policy is not policy:  # an id can be reused once a policy is gone
        if len(_POLICY_KEYS) >= MAX_POLICIES_KEPT:
            _POLICY_KEYS.clear()
        kept = _POLICY_KEYS[id(policy)] = _PolicyKeys(policy)
    return kept


_CARD_EDGES: dict[int, tuple[ModelCard, dict[str, Any]]] = {}


def card_edges(card: ModelCard) -> dict[str, Any]:
    """What an answer shows of ``card``'s thresholds, per label: ``allow``, ``enforce`` and
    ``guarantee`` — stored once per threshold set (:mod:`serving.threshold_sets`), built once
    per card object (shared by its decisions: never changed)."""
    kept = _CARD_EDGES.get(id(card))
    if kept is None or kept[0] is not card:  # an id can be reused once a card is gone
        if len(_CARD_EDGES) >= MAX_POLICIES_KEPT:
            _CARD_EDGES.clear()
        edges = {
            label: {"allow": e.allow, "enforce": e.enforce, "guarantee": _guarantee(e)}
            for label, e in card.thresholds.items()
        }
        kept = _CARD_EDGES[id(card)] = (card, edges)
    return kept[1]


def content_hash(listing: Listing, policy: Policy | None = None) -> str:
    """SHA-256 of the fields that scoring and policy read (the attributes the policy's clauses
    read included); an edit to any of them re-scores."""
    scored: dict[str, Any] = {name: getattr(listing, name) for name in SCORED_FIELDS}
    read = _policy_keys(policy).attributes_read if policy is not None else ()
    if read:
        scored["attributes"] = {name: listing.attributes.get(name) for name in read}
    return hashlib.sha256(json.dumps(scored, sort_keys=True).encode()).hexdigest()


def idempotency_key(
    listing: Listing,
    *,
    model_version: str,
    threshold_set: str,
    policy: Policy,
    content: str | None = None,
) -> str:
    """The key of ``listing``'s decision: its id and content (``content``, its
    :func:`content_hash` when already known), the model, thresholds and policy."""
    parts = (
        listing.listing_id,
        content_hash(listing, policy) if content is None else content,
        model_version,
        threshold_set,
        _policy_keys(policy).content_id,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ListingKeys:
    """A listing's content hash and the idempotency key of its decision."""

    content_hash: str
    idempotency_key: str
    unseen: bool = False
    """No decision was stored under the key when it was looked up, before scoring."""


def listing_keys(listings: list[Listing], card: ModelCard, policy: Policy) -> list[ListingKeys]:
    """Each listing's keys under ``card``'s model and thresholds and ``policy``."""
    found = []
    for listing in listings:
        content = content_hash(listing, policy)
        key = idempotency_key(
            listing,
            model_version=card.model_id,
            threshold_set=card.threshold_set_id,
            policy=policy,
            content=content,
        )
        found.append(ListingKeys(content, key))
    return found


def decide_listings(
    listings: list[Listing],
    *,
    scorer: BundleScorer,
    policy: Policy,
    request_id: str,
    shadow: BundleScorer | None = None,
    keys: list[ListingKeys] | None = None,
) -> list[NewDecision]:
    """Score and route each listing (CPU only: no database), in order; with ``shadow``, the
    challenger scores and routes the same listings under the same policy, stored beside.
    ``keys``: the listings' :func:`listing_keys`, when the caller has them already."""
    batch = []
    shadows = _shadow_decisions(listings, shadow, policy) if shadow else [None] * len(listings)
    if keys is None:
        keys = listing_keys(listings, scorer.card, policy)
    scores = scorer.score(listings)
    for listing, score, beside, key in zip(listings, scores, shadows, keys, strict=True):
        routed = route_listing(
            score.probabilities,
            score.category,
            thresholds=scorer.card.thresholds,
            policy=policy,
            listing=listing,
        )
        decided = _new_decision(listing, key, score, routed, scorer, policy, request_id)
        batch.append(decided if beside is None else dataclasses.replace(decided, shadow=beside))
    return batch


def _shadow_decisions(
    listings: list[Listing], shadow: BundleScorer, policy: Policy
) -> list[ShadowDecision | None]:
    """The challenger's decisions; a failure of the challenger is logged and leaves none (the
    champion's answer never depends on it)."""
    try:
        return _scored_in_shadow(listings, shadow, policy)
    except Exception:  # the challenger is under trial: nothing of it may fail a request
        LOGGER.exception("shadow model %s failed; no shadow scores stored", shadow.card.model_id)
        return [None] * len(listings)


def _scored_in_shadow(
    listings: list[Listing], shadow: BundleScorer, policy: Policy
) -> list[ShadowDecision | None]:
    card = shadow.card
    found: list[ShadowDecision | None] = []
    for listing, score in zip(listings, shadow.score(listings), strict=True):
        routed = route_listing(
            score.probabilities,
            score.category,
            thresholds=card.thresholds,
            policy=policy,
            listing=listing,
        )
        found.append(
            ShadowDecision(
                model_version=card.model_id,
                threshold_set_id=card.threshold_set_id,
                scores=score.probabilities,
                bands=routed.bands,
                action=routed.action,
            )
        )
    return found


def replay_known(
    session_factory: sessionmaker[Session],
    keys: list[str],
    *,
    scorer: BundleScorer,
    policy: Policy,
) -> list[dict[str, Any]] | None:
    """The stored answers (``replayed``; :func:`decision_fields`) of ``keys``, every one of
    which is stored under this model, thresholds and policy; None, having changed nothing, when
    one is no longer found."""
    card = scorer.card
    edges = {label: (e.allow, e.enforce) for label, e in card.thresholds.items()}

    def urgency_of(record: AnyDecision) -> Urgency:
        price = record.listing.get("price")
        return review_urgency(
            record.scores, record.bands, edges, market=record.market,
            price=float(price) if isinstance(price, int | float) else None,
            reach=parse_reach(record.listing.get("attributes") or {}), review=policy.review,
        )  # fmt: skip

    found = replay_stored(
        session_factory, keys, urgency_of=urgency_of, seller_rules=policy.review.strikes
    )
    return None if found is None else [decision_fields(stored, replayed=True) for stored in found]


def known_answers(
    session_factory: sessionmaker[Session],
    listings: list[Listing],
    *,
    scorer: BundleScorer,
    policy: Policy,
) -> tuple[list[ListingKeys], list[dict[str, Any]] | None]:
    """The listings' keys, and — when every listing's content was already scored with this
    model, thresholds and policy (a retry) — the stored answers, before any inference. Checked
    by one read of the key column, no record loaded (the usual case, a fresh listing); keys
    found in none come back ``unseen``. Run off the event loop: hashing a batch's listings takes
    milliseconds."""
    keys = listing_keys(listings, scorer.card, policy)
    wanted = [key.idempotency_key for key in keys]
    stored = stored_keys(session_factory, wanted)
    if not stored:
        return [dataclasses.replace(key, unseen=True) for key in keys], None
    if not stored.issuperset(wanted):
        return keys, None
    return keys, replay_known(session_factory, wanted, scorer=scorer, policy=policy)


def answers(recorded: list[tuple[StoredDecision, bool]]) -> list[dict[str, Any]]:
    """The answers for recorded decisions (:func:`decision_fields`); one an identical earlier
    request stored is ``replayed``. Decisions of one threshold set share its guarantees' fields
    (built once per call, written once per answer)."""
    guarantees: dict[int, dict[str, Any] | None] = {}
    return [
        decision_fields(stored, replayed=not created, guarantees=guarantees)
        for stored, created in recorded
    ]


def _new_decision(
    listing: Listing,
    keys: ListingKeys,
    score: ListingScore,
    routed: RoutedListing,
    scorer: BundleScorer,
    policy: Policy,
    request_id: str,
) -> NewDecision:
    card = scorer.card
    return NewDecision(
        idempotency_key=keys.idempotency_key,
        unseen_key=keys.unseen,
        listing_id=listing.listing_id,
        content_hash=keys.content_hash,
        request_id=request_id,
        market=listing.market,
        listing=listing.model_dump(mode="json"),
        scores=score.probabilities,
        bands=routed.bands,
        # The category head runs on every listing; name a category only where its label is
        # not auto-allowed, so a clean listing is never labelled "alcohol" in the record.
        regulated_category=_named_category(score, routed, card.taxonomy.category_label),
        category_scores=score.category_probabilities,
        action=routed.action,
        explanation=_explanation(score, routed, scorer),
        model_version=card.model_id,
        threshold_set_id=card.threshold_set_id,
        policy_version=policy.version,
        thresholds=card_edges(card),
        urgency=_urgency(listing, score, routed, card.thresholds, policy),
        strike_labels=_certified_enforcements(routed, card.thresholds),
        seller_rules=policy.review.strikes,
        audit=policy.review.audit,
    )


def _certified_enforcements(
    routed: RoutedListing, thresholds: dict[str, LabelThresholds]
) -> tuple[str, ...]:
    """Labels a block enforced on an edge certified against wrong enforcements: only those
    confirm a violation without a human (an uncertain model must not punish sellers)."""
    if routed.action != "block":
        return ()
    return tuple(
        label
        for label, band in routed.bands.items()
        if band == "enforce"
        and (promise := thresholds[label].wrong_enforcements) is not None
        and promise.certified
    )


def _urgency(
    listing: Listing,
    score: ListingScore,
    routed: RoutedListing,
    thresholds: dict[str, LabelThresholds],
    policy: Policy,
) -> Urgency:
    return review_urgency(
        score.probabilities,
        routed.bands,
        {label: (edges.allow, edges.enforce) for label, edges in thresholds.items()},
        market=listing.market,
        price=listing.price,
        reach=parse_reach(listing.attributes),
        review=policy.review,
    )


def _explanation(
    score: ListingScore, routed: RoutedListing, scorer: BundleScorer
) -> dict[str, Any]:
    """What a reviewer or auditor needs to see why: reasons, band edges and policy rules."""
    return {
        "reasons": {
            label: [
                *(
                    {"phrase": f"rule {rule.id}", "weight": 0.0}
                    for rule in routed.fired_rules
                    if rule.label == label
                ),
                *({"phrase": r.phrase, "weight": r.weight} for r in reasons),
            ]
            for label, reasons in score.reasons.items()
        },
        "rules": routed.rules,
        "clause": routed.clause,
        "category_label": scorer.card.taxonomy.category_label,
    }


def _guarantee(edges: LabelThresholds) -> dict[str, Any] | None:
    """What each edge promises, as recorded with the decision (None: no certification ran)."""
    allow, enforce = edges.let_through, edges.wrong_enforcements
    if allow is None or enforce is None:
        return None
    return {
        "confidence": allow.confidence,
        "unit": allow.unit,
        **{
            c.promise: {
                "target": c.target,
                "certified": c.certified,
                "fallback": c.fallback,
                "estimand": c.estimand,
            }
            for c in (allow, enforce)
        },
    }


def _named_category(score: ListingScore, routed: RoutedListing, label: str | None) -> str | None:
    if label is None or routed.bands.get(label, "allow") == "allow":
        return None
    return score.category


def decision_out(stored: StoredDecision, *, replayed: bool) -> DecisionOut:
    """The API's answer for ``stored`` as its validated model."""
    return DecisionOut.model_validate(decision_fields(stored, replayed=replayed))


def decision_fields(
    stored: StoredDecision,
    *,
    replayed: bool,
    guarantees: dict[int, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """The API's answer for ``stored`` as plain values, shaped as :class:`DecisionOut`: the
    scoring endpoints serialize these directly (``serving.api_score``), since building and
    validating the model for every listing cost more than recording it (a test validates what
    this builds against the model, for every kind of decision). ``guarantees``: the fields of
    each stored guarantee already built, by the guarantee's identity (shared by the answers of
    one call, while the guarantees it names are alive)."""
    explanation = stored.explanation
    built = {} if guarantees is None else guarantees
    human = stored.human
    thresholds, reasons = stored.thresholds, explanation["reasons"]
    return {
        "decision_id": stored.id,
        "listing_id": stored.listing_id,
        "action": stored.action,
        "model_action": stored.model_action,
        "human_decision": None
        if human is None
        else {
            "item_id": human.item_id,
            "action": human.action,
            "decided_by": human.decided_by,
            "reason_code": human.reason_code,
            "decided_at": human.decided_at,
        },
        "labels": {
            label: {
                "probability": probability,
                "band": stored.bands[label],
                "allow_below": thresholds[label]["allow"],
                "enforce_at": thresholds[label]["enforce"],
                "reasons": [
                    {"phrase": reason["phrase"], "weight": reason["weight"]}
                    for reason in reasons[label]
                ],
                "guarantee": _guarantee_fields(thresholds[label].get("guarantee"), built),
            }
            for label, probability in stored.scores.items()
        },
        "category": {
            "label": explanation.get("category_label"),
            "name": stored.regulated_category,
            "probabilities": stored.category_scores,
        },
        "rules": explanation["rules"],
        "policy_clause": explanation.get("clause"),
        "market": stored.market,
        "model_version": stored.model_version,
        "threshold_set_id": stored.threshold_set_id,
        "policy_version": stored.policy_version,
        "review_item_id": stored.review_item_id,
        "created_at": stored.created_at,
        "replayed": replayed,
    }


def _guarantee_fields(
    guarantee: dict[str, Any] | None, built: dict[int, dict[str, Any] | None]
) -> dict[str, Any] | None:
    """The stored guarantee in the response model's field order (PostgreSQL's JSONB keeps its
    keys in an order of its own), built once per guarantee in ``built``."""
    if guarantee is None:
        return None
    found = built.get(id(guarantee))
    if found is None:
        found = built[id(guarantee)] = {
            "confidence": guarantee["confidence"],
            "unit": guarantee["unit"],
            **{promise: _promise_fields(guarantee[promise]) for promise in PROMISES},
        }
    return found


def _promise_fields(promise: dict[str, Any]) -> dict[str, Any]:
    return {name: promise[name] for name in ("target", "certified", "fallback", "estimand")}
