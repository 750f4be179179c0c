"""What a human verdict says about each label of a listing."""

from models.review_policy import ReviewPolicy
from serving.tables import DecisionRecord, WorkItem


def verdict_labels(
    item: WorkItem, decision: DecisionRecord, review: ReviewPolicy
) -> dict[str, bool | None]:
    """Per label of the decision: violated (True), not (False) or not judged (None).

    A QA verdict judges every label. An allow finds none violated. A block confirms the labels
    its reason code names — or, for a code that names none, the labels the model did not allow
    — and leaves the others unjudged.
    """
    if item.qa_labels is not None:
        return {label: bool(found) for label, found in item.qa_labels.items()}
    if item.human_action != "block":
        return dict.fromkeys(decision.scores, False)
    code = review.reason_codes.get(item.reason_code or "")
    if code is not None and code.labels:
        confirmed = set(code.labels)
    else:
        confirmed = {label for label, band in decision.bands.items() if band != "allow"}
    return {label: True if label in confirmed else None for label in decision.scores}
