"""The out-of-distribution check: hand-written everyday and risky listings, expected actions.

:data:`OOD_FILE` holds listings unlike any training source, each with the action a moderator
would expect under the default policy of the default taxonomy. Scored through the bundle and
routed by :func:`models.routing.route_listing`, the report counts agreement per group, everyday
listings blocked (false blocks), violations auto-allowed, and lists every disagreement. Never
used for training, calibration or selection.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from data.schema import Listing
from data.taxonomy import DEFAULT_TAXONOMY_NAME
from models.policy import Policy
from models.routing import route_listing
from models.scorer import BundleScorer

OOD_FILE = Path(__file__).with_name("ood") / "everyday-and-risky.jsonl"


class OodListing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listing: Listing
    group: str
    expected_action: Literal["allow", "review", "block"]


def load_ood(path: Path = OOD_FILE) -> list[OodListing]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        group, expected = record.pop("group"), record.pop("expected_action")
        items.append(OodListing(listing=Listing(**record), group=group, expected_action=expected))
    return items


def applies_to(scorer: BundleScorer) -> bool:
    """The expected actions are written for the default taxonomy's labels and policy."""
    return scorer.card.taxonomy.name == DEFAULT_TAXONOMY_NAME


def ood_check(scorer: BundleScorer, policy: Policy, items: list[OodListing]) -> dict[str, Any]:
    """Agreement with the expected actions, per group and overall, and every disagreement."""
    scores = scorer.score([item.listing for item in items])
    per_group: dict[str, Counter[str]] = {}
    disagreements = []
    for item, score in zip(items, scores, strict=True):
        routed = route_listing(
            score.probabilities,
            score.category,
            thresholds=scorer.card.thresholds,
            policy=policy,
            listing=item.listing,
        )
        counts = per_group.setdefault(item.group, Counter())
        counts["n"] += 1
        counts["agree"] += routed.action == item.expected_action
        counts["false_block"] += item.expected_action == "allow" and routed.action == "block"
        counts["missed"] += item.expected_action == "block" and routed.action == "allow"
        if routed.action != item.expected_action:
            top = max(score.probabilities, key=lambda label: score.probabilities[label])
            disagreements.append(
                {
                    "listing_id": item.listing.listing_id,
                    "group": item.group,
                    "title": item.listing.title,
                    "expected": item.expected_action,
                    "got": routed.action,
                    "clause": routed.clause,
                    "top_label": top,
                    "top_probability": round(score.probabilities[top], 4),
                    "category": score.category
                    if top == scorer.card.taxonomy.category_label
                    else None,
                }
            )
    total: Counter[str] = sum(per_group.values(), Counter())
    return {
        "file": OOD_FILE.name,
        "policy": policy.version,
        "n": total["n"],
        "agreement": total["agree"] / max(total["n"], 1),
        "false_blocks": total["false_block"],
        "violations_auto_allowed": total["missed"],
        "groups": {
            group: {
                "n": counts["n"],
                "agreement": counts["agree"] / counts["n"],
                "false_blocks": counts["false_block"],
                "violations_auto_allowed": counts["missed"],
            }
            for group, counts in sorted(per_group.items())
        },
        "disagreements": disagreements,
    }
