"""Cheap evasions against feature version 1 and 2, on a model trained on marketplace-risk-v1.

    .venv/bin/python -m benchmarks.evasions [--titles 500]

Trains the default config twice on train (features.version 1 and 2, no MLflow), then scores
"replica rolex watch" written plainly and with evasions, and, over validation titles of violating
listings, the mean and largest |p(evasive) - p(plain)| of each evasion and how often the band
changes. Aggregate figures only.
"""

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.schema import Listing
from models.routing import band_of
from models.scorer import BundleScorer
from training.config import load_config
from training.pipeline import train_bundle

ZWSP = "\u200b"
EVASIONS: dict[str, Callable[[str], str]] = {
    "zero-width in one word": lambda t: " ".join(
        [ZWSP.join(t.split()[0]), *t.split()[1:]] if t.split() else []
    ),
    "zero-width in every word": lambda t: " ".join(ZWSP.join(w) for w in t.split()),
    "spaced letters": lambda t: " ".join(
        [" ".join(t.split()[0]), *t.split()[1:]] if t.split() else []
    ),
    "look-alikes": lambda t: t.replace("e", "\u0435").replace("o", "\u03bf"),
    "leetspeak": lambda t: " ".join(
        w[0] + w[1:-1].replace("o", "0").replace("a", "4") + w[-1] if len(w) > 2 else w
        for w in t.split()
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--titles", type=int, default=500)
    args = parser.parse_args()
    folder = (
        Path(os.environ.get("LISTINGGUARD_SHARED_DIR", "../shared"))
        / "data"
        / "marketplace-risk-v1"
    )
    if not (folder / "train.jsonl").is_file():
        print(f"{folder}: absent; nothing to measure")
        return
    mapping = load_mapping(resolve_mapping_path("marketplace-risk-v1"))
    train = load_labeled(folder / "train.jsonl", mapping).rows
    validation = load_labeled(folder / "validation.jsonl", mapping).rows
    violating = [
        r.listing.title for r in validation if any(v == 1 for v in r.labels.values.values())
    ]
    titles = violating[: args.titles]
    with tempfile.TemporaryDirectory() as scratch:
        for version in (1, 2):
            config = load_config()
            config = config.model_copy(
                update={"features": config.features.model_copy(update={"version": version})}
            )
            bundle = Path(scratch) / f"v{version}"
            train_bundle(train, config=config, data_fingerprint="bench", bundle_dir=bundle)
            scorer = BundleScorer(bundle)
            report(version, scorer, titles)


def report(version: int, scorer: BundleScorer, titles: list[str]) -> None:
    plain = "replica rolex watch"
    shown = [plain, *(evade(plain) for evade in EVASIONS.values())]
    scores = scorer.score([Listing(listing_id=str(i), title=t) for i, t in enumerate(shown)])
    print(f"\nfeature version {version}: counterfeit probability of 'replica rolex watch'")
    for name, score in zip(["plain", *EVASIONS], scores, strict=True):
        print(f"  {name:<26} {score.probabilities['counterfeit']:.3f}")
    base = scorer.score([Listing(listing_id=str(i), title=t) for i, t in enumerate(titles)])
    print(
        f"  over {len(titles)} violating validation titles (all labels): "
        "mean / max |dp|, band changed"
    )
    for name, evade in EVASIONS.items():
        evaded = scorer.score(
            [Listing(listing_id=str(i), title=evade(t) or t) for i, t in enumerate(titles)]
        )
        diffs, changed = [], 0
        for a, b in zip(base, evaded, strict=True):
            for label, p in a.probabilities.items():
                q = b.probabilities[label]
                diffs.append(abs(p - q))
                edges = scorer.card.thresholds[label]
                changed += band_of(p, edges) != band_of(q, edges)
        print(
            f"  {name:<26} {np.mean(diffs):.4f} / {np.max(diffs):.3f}, "
            f"{changed / len(diffs):.1%} of label bands"
        )


if __name__ == "__main__":
    main()
