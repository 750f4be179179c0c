"""Policy: turn per-label bands and the category into a listing action."""

from pydantic import BaseModel, ConfigDict, Field, model_validator

from data.taxonomy import Action, Taxonomy

ACTION_SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


class Policy(BaseModel):
    """What each auto-enforce band means for a listing.

    ``enforce_actions`` maps labels to the action taken when they are auto-enforced; for the
    taxonomy's category label (``category_label``) ``category_actions`` maps each category to its
    action, and ``enforce_actions`` gives the action for an unknown or unlisted category. A label
    missing from ``enforce_actions`` goes to review. A review band on any label sends the listing
    to review unless another label blocks it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=100)
    enforce_actions: dict[str, Action]
    category_label: str | None = None
    category_actions: dict[str, Action] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _categories_need_their_label(self) -> "Policy":
        if self.category_actions and self.category_label is None:
            raise ValueError(f"policy {self.version!r}: category_actions without category_label")
        return self

    def check_against(self, taxonomy: Taxonomy) -> None:
        """Raise ``ValueError`` when the policy names labels or categories ``taxonomy`` lacks."""
        taxonomy.check_labels(self.enforce_actions, f"policy {self.version!r}: enforce_actions")
        if self.category_label != taxonomy.category_label:
            raise ValueError(
                f"policy {self.version!r}: category_label {self.category_label!r}, but taxonomy "
                f"{taxonomy.name!r} has categories on {taxonomy.category_label!r}"
            )
        for name in self.category_actions:
            taxonomy.check_category(name, f"policy {self.version!r}: category_actions")


def default_policy(taxonomy: Taxonomy) -> Policy:
    """The policy the taxonomy's ``enforce_action`` entries describe."""
    carrier = taxonomy.category_label
    categories = taxonomy.label(carrier).categories or {} if carrier else {}
    return Policy(
        version=f"{taxonomy.name}-v1",
        enforce_actions={label.name: label.enforce_action for label in taxonomy.labels},
        category_label=carrier,
        category_actions={name: spec.enforce_action for name, spec in categories.items()},
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
            rules.append(_describe(label, band, category, label_action, policy))
        if ACTION_SEVERITY[label_action] > ACTION_SEVERITY[action]:
            action = label_action
    return PolicyOutcome(action=action, rules=rules)


def _label_action(label: str, band: str, category: str | None, policy: Policy) -> Action:
    if band == "review":
        return "review"
    if band != "enforce":
        return "allow"
    fallback = policy.enforce_actions.get(label, "review")
    if label == policy.category_label and category is not None:
        return policy.category_actions.get(category, fallback)
    return fallback


def _describe(label: str, band: str, category: str | None, action: Action, policy: Policy) -> str:
    if label == policy.category_label and band == "enforce":
        return f"{label} ({category or 'unknown category'}) enforce -> {action}"
    return f"{label} {band} -> {action}"
