"""Policy: what each label's band means for a listing, per market, as data (a YAML file).

A policy names, for each label, the action when it is auto-enforced, and for each category of
the taxonomy's category label its status — ``prohibited`` (block), ``restricted`` (review, or
allowed when the listing carries one of ``allowed_with``'s attributes, such as a licence number)
or ``allowed``. ``markets`` override either per market. A review band on any label sends the
listing to review unless another label blocks it. Every outcome names the clause that decided it
(``markets.US.categories.alcohol``, ``labels.fraud``, ``bands.review``).

Load files with :func:`models.policy_file.load_policy`; without one, serving and evaluation use
:func:`default_policy` of the bundle's taxonomy.
"""

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from data.taxonomy import Action, Taxonomy
from models.policy_rules import Rule
from models.review_policy import ReviewPolicy

ACTION_SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}
CategoryStatus = Literal["prohibited", "restricted", "allowed"]
STATUS_OF_ACTION: dict[str, CategoryStatus] = {
    "block": "prohibited",
    "review": "restricted",
    "allow": "allowed",
}


class CategoryRule(BaseModel):
    """A category's status: in YAML a bare status, or ``{status: ..., allowed_with: [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: CategoryStatus
    allowed_with: tuple[str, ...] = ()
    """Listing attributes any one of which (present and not blank) allows a restricted category."""

    @model_validator(mode="before")
    @classmethod
    def _bare_status(cls, data: Any) -> Any:
        return {"status": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _attributes_only_when_restricted(self) -> "CategoryRule":
        if self.allowed_with and self.status != "restricted":
            raise ValueError(f"allowed_with applies to restricted categories, not {self.status}")
        return self

    def action(self, attributes: Mapping[str, str]) -> tuple[Action, str]:
        """The action and why (the attribute that allowed it, when one did)."""
        if self.status == "prohibited":
            return "block", "prohibited"
        if self.status == "allowed":
            return "allow", "allowed"
        for name in self.allowed_with:
            if attributes.get(name, "").strip():
                return "allow", f"restricted, allowed with {name}"
        return "review", "restricted"


class MarketPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[str, Action] = Field(default_factory=dict)
    categories: dict[str, CategoryRule] = Field(default_factory=dict)


class Policy(BaseModel):
    """A versioned policy; ``labels``/``categories`` hold everywhere unless a market overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=100)
    effective_date: date | None = None
    description: str = ""
    category_label: str | None = None
    """The taxonomy's label that carries categories (``regulated`` by default)."""
    labels: dict[str, Action]
    """Action per label when auto-enforced; for the category label, the action when its category
    is unknown or has no rule. A label without an entry goes to review."""
    categories: dict[str, CategoryRule] = Field(default_factory=dict)
    markets: dict[str, MarketPolicy] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    """Declarative rules (:mod:`models.policy_rules`), applied in order."""
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)
    """Reason codes, SLAs and queue priority of human review (:mod:`models.review_policy`)."""

    @model_validator(mode="after")
    def _consistent(self) -> "Policy":
        ids = [rule.id for rule in self.rules]
        repeated = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if repeated:
            raise ValueError(f"rules: ids {repeated} are used more than once")
        if self.category_label is None and (
            self.categories or any(m.categories for m in self.markets.values())
        ):
            raise ValueError("categories are set but category_label is not")
        for market in self.markets:
            if len(market) != 2 or not market.isalpha() or not market.isupper():
                raise ValueError(f"markets.{market}: a market is two capital letters (ISO 3166)")
        return self

    def check_against(self, taxonomy: Taxonomy) -> None:
        """Raise ``ValueError`` naming the clause when a label or category is not ``taxonomy``'s."""
        places = [("labels", self.labels, self.categories)] + [
            (f"markets.{code}.labels", market.labels, market.categories)
            for code, market in self.markets.items()
        ]
        if self.category_label != taxonomy.category_label:
            raise ValueError(
                f"category_label: {self.category_label!r}, but taxonomy {taxonomy.name!r} has "
                f"categories on {taxonomy.category_label!r}"
            )
        for where, labels, categories in places:
            for label in labels:
                taxonomy.check_labels([label], f"{where}.{label}")
            for name in categories:
                taxonomy.check_category(name, where.replace("labels", "categories") + f".{name}")
        for index, rule in enumerate(self.rules):
            taxonomy.check_labels([rule.label], f"rules.{index}.label")
        for clause, label in self.review.labels_named():
            taxonomy.check_labels([label], clause)

    def content_id(self) -> str:
        """The version and a hash of every clause: an edit under the same version changes it."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]
        return f"{self.version}#{digest}"

    def attributes_read(self) -> tuple[str, ...]:
        """Every listing attribute a clause reads (they join a decision's idempotency key)."""
        rules = [*self.categories.values()] + [
            rule for market in self.markets.values() for rule in market.categories.values()
        ]
        names = {name for rule in rules for name in rule.allowed_with}
        names |= {name for rule in self.rules for name in rule.attributes_read}
        return tuple(sorted(names))


def default_policy(taxonomy: Taxonomy) -> Policy:
    """The policy the taxonomy's ``enforce_action`` entries describe, the same in every market."""
    carrier = taxonomy.category_label
    categories = taxonomy.label(carrier).categories or {} if carrier else {}
    return Policy(
        version=f"{taxonomy.name}-v1",
        description=f"the default actions of taxonomy {taxonomy.name!r}",
        category_label=carrier,
        labels={label.name: label.enforce_action for label in taxonomy.labels},
        categories={
            name: CategoryRule(status=STATUS_OF_ACTION[spec.enforce_action])
            for name, spec in categories.items()
        },
    )


class PolicyOutcome(BaseModel):
    """The listing's action, the rule behind each label's contribution, the deciding clause."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    rules: list[str]
    clause: str
    """The policy clause behind the action (the most severe one; ``default`` when all allow)."""
    label: str | None = None
    """The label whose band the deciding clause applied to (None: ``default``)."""


def decide_action(
    bands: dict[str, str],
    category: str | None,
    policy: Policy,
    *,
    market: str = "US",
    attributes: Mapping[str, str] | None = None,
) -> PolicyOutcome:
    """The most severe action any label's band calls for under ``policy`` in ``market``."""
    action: Action = "allow"
    clause = "default"
    deciding: str | None = None
    rules: list[str] = []
    for label, band in bands.items():
        label_action, label_clause, note = _label_action(
            label, band, category, policy, market, attributes or {}
        )
        if band != "allow":
            rules.append(f"{label} {band}{note} -> {label_action} [{label_clause}]")
        more_severe = ACTION_SEVERITY[label_action] > ACTION_SEVERITY[action]
        if more_severe or (band != "allow" and clause == "default"):
            action, clause, deciding = label_action, label_clause, label
    return PolicyOutcome(action=action, rules=rules, clause=clause, label=deciding)


def _label_action(
    label: str,
    band: str,
    category: str | None,
    policy: Policy,
    market: str,
    attributes: Mapping[str, str],
) -> tuple[Action, str, str]:
    """(action, clause, note for the rule text) of one label's band."""
    if band == "review":
        return "review", "bands.review", ""
    if band != "enforce":
        return "allow", "bands.allow", ""
    local = policy.markets.get(market)
    if label == policy.category_label:
        note = f" ({category or 'unknown category'})"
        if category is not None:
            if local is not None and category in local.categories:
                action, why = local.categories[category].action(attributes)
                return action, f"markets.{market}.categories.{category}", f"{note} {why}"
            if category in policy.categories:
                action, why = policy.categories[category].action(attributes)
                return action, f"categories.{category}", f"{note} {why}"
    else:
        note = ""
    if local is not None and label in local.labels:
        return local.labels[label], f"markets.{market}.labels.{label}", note
    if label in policy.labels:
        return policy.labels[label], f"labels.{label}", note
    return "review", "default.review", note
