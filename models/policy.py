"""Policy: turn per-label bands and the regulated category into a listing action."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from data.taxonomy import LABELS, REGULATED_CATEGORIES

Action = Literal["allow", "review", "block"]
ACTION_SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


class Policy(BaseModel):
    """What each auto-enforce band means for a listing.

    ``enforce_actions`` maps fraud and counterfeit to an action; ``regulated_actions`` maps each
    regulated category to the action taken when ``regulated`` is auto-enforced. A review band on
    any label sends the listing to review unless another label blocks it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=100)
    enforce_actions: dict[str, Action]
    regulated_actions: dict[str, Action]
    unknown_category_action: Action = "review"

    @model_validator(mode="after")
    def _names_are_known(self) -> "Policy":
        unknown_labels = set(self.enforce_actions) - set(LABELS)
        unknown_categories = set(self.regulated_actions) - set(REGULATED_CATEGORIES)
        if unknown_labels or unknown_categories:
            raise ValueError(
                f"policy {self.version!r} names unknown labels {sorted(unknown_labels)} "
                f"or categories {sorted(unknown_categories)}"
            )
        return self


DEFAULT_POLICY = Policy(
    version="default-v1",
    enforce_actions={"fraud": "block", "counterfeit": "block"},
    regulated_actions={
        "illicit_drugs": "block",
        "prescription_drugs": "block",
        "weapons": "block",
        "tobacco": "review",
        "drug_paraphernalia": "review",
        "alcohol": "allow",
        "supplements": "allow",
        "otc_medicine": "allow",
    },
)


class PolicyOutcome(BaseModel):
    """The listing's action and the rule behind each label's contribution to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    rules: list[str]


def decide_action(bands: dict[str, str], category: str | None, policy: Policy) -> PolicyOutcome:
    """The most severe action any label's band calls for under ``policy``."""
    action: Action = "allow"
    rules: list[str] = []
    for label, band in bands.items():
        label_action = _label_action(label, band, category, policy)
        if band != "allow":
            rules.append(_describe(label, band, category, label_action))
        if ACTION_SEVERITY[label_action] > ACTION_SEVERITY[action]:
            action = label_action
    return PolicyOutcome(action=action, rules=rules)


def _label_action(label: str, band: str, category: str | None, policy: Policy) -> Action:
    if band == "review":
        return "review"
    if band != "enforce":
        return "allow"
    if label == "regulated":
        if category is None:
            return policy.unknown_category_action
        return policy.regulated_actions.get(category, policy.unknown_category_action)
    return policy.enforce_actions.get(label, "review")


def _describe(label: str, band: str, category: str | None, action: Action) -> str:
    if label == "regulated" and band == "enforce":
        return f"regulated ({category or 'unknown category'}) enforce -> {action}"
    return f"{label} {band} -> {action}"
