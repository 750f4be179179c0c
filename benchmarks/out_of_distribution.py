"""The out-of-distribution check on a model trained on marketplace-risk-v1.

    .venv/bin/python -m benchmarks.out_of_distribution

Trains the default config on train (no MLflow) and routes the hand-written everyday and risky
listings of ``evaluation/ood/`` under the default policy: agreement with a moderator's expected
action per group, everyday listings blocked, violations auto-allowed, and each disagreement (the
listings are ListingGuard's own, so they are printed).
"""

import os
import tempfile
from pathlib import Path

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from evaluation.ood import load_ood, ood_check
from models.policy import default_policy
from models.scorer import BundleScorer
from training.config import load_config
from training.pipeline import train_bundle


def main() -> None:
    folder = Path(os.environ.get("LISTINGGUARD_SHARED_DIR", "../shared")) / "data"
    train_file = folder / "marketplace-risk-v1" / "train.jsonl"
    if not train_file.is_file():
        print(f"{train_file}: absent; nothing to measure")
        return
    mapping = load_mapping(resolve_mapping_path("marketplace-risk-v1"))
    train = load_labeled(train_file, mapping).rows
    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "bundle"
        train_bundle(train, config=load_config(), data_fingerprint="bench", bundle_dir=bundle)
        scorer = BundleScorer(bundle)
        result = ood_check(scorer, default_policy(scorer.card.taxonomy), load_ood())
    print(
        f"{result['n']} listings, agreement {result['agreement']:.3f}, everyday listings blocked "
        f"{result['false_blocks']}, violations auto-allowed {result['violations_auto_allowed']}"
    )
    print(f"{'group':<16} {'n':>3} {'agree':>6} {'false blocks':>12} {'auto-allowed':>12}")
    for group, item in result["groups"].items():
        print(
            f"{group:<16} {item['n']:>3} {item['agreement']:>6.2f} {item['false_blocks']:>12} "
            f"{item['violations_auto_allowed']:>12}"
        )
    print("disagreements:")
    for item in result["disagreements"]:
        print(
            f"  {item['group']:<15} expected {item['expected']:<6} got {item['got']:<6} "
            f"{item['top_label']} {item['top_probability']:.2f} {item['category'] or ''} "
            f"| {item['title']}"
        )


if __name__ == "__main__":
    main()
