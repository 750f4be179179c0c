"""listingguard thresholds: review volume per pair of promises, and which promise must give."""

from pathlib import Path

from click.testing import CliRunner

from data.demo import generate_demo_listings, write_demo_dataset
from data.taxonomy import default_taxonomy
from evaluation.capacity import plan_capacity
from evaluation.scored import score_rows
from models.policy import default_policy
from models.scorer import BundleScorer
from training.cli import main


def test_the_loosest_promises_cost_fewer_reviews_than_the_strictest(demo_bundle: Path) -> None:
    scorer = BundleScorer(demo_bundle)
    scored = score_rows(scorer, list(generate_demo_listings(n=800, seed=31)))
    points = plan_capacity(
        scored, scorer.card, default_policy(default_taxonomy()),
        let_through_grid=(0.02, 0.1, 0.3), wrong_enforcement_grid=(0.05, 0.2),
    )  # fmt: skip
    assert [(p.let_through, p.wrong_enforcements) for p in points] == [
        (0.02, 0.05), (0.02, 0.2), (0.1, 0.05), (0.1, 0.2), (0.3, 0.05), (0.3, 0.2),
    ]  # fmt: skip
    share = {(p.let_through, p.wrong_enforcements): p.review_share for p in points}
    # Certified edges move monotonically with the promise; a fallback edge need not, so only the
    # grid's corners are compared.
    assert share[(0.02, 0.05)] >= share[(0.3, 0.2)]
    certified = {
        (p.let_through, p.wrong_enforcements): sum(sum(pair) for pair in p.certified.values())
        for p in points
    }
    assert certified[(0.3, 0.2)] >= certified[(0.02, 0.05)]
    assert all(set(p.certified) == set(scorer.card.labels) for p in points)


def test_the_command_says_what_fits_and_what_must_give(demo_bundle: Path, tmp_path: Path) -> None:
    data = write_demo_dataset(tmp_path / "demo", n=600, seed=32)
    common = ["thresholds", "--model", str(demo_bundle), "--data", str(data), "--mapping", "demo"]
    roomy = CliRunner().invoke(main, [*common, "--capacity", "1000000", "--traffic", "1000"])
    assert roomy.exit_code == 0, roomy.output
    assert "the configured promises (10% / 5%) fit" in roomy.output
    assert (
        len(
            [
                line
                for line in roomy.output.splitlines()
                if line.strip().endswith("all") or " not " in line
            ]
        )
        == 24
    )
    tight = CliRunner().invoke(main, [*common, "--capacity", "0", "--traffic", "1000"])
    assert tight.exit_code == 0, tight.output
    assert "fits" in tight.output and (
        "no pair fits" in tight.output or "must give" in tight.output
    )


def test_the_report_marks_which_pairs_certify_on_its_data(demo_bundle: Path) -> None:
    from evaluation.capacity import certifiable, certified_edges
    from evaluation.run import EvaluationOptions, evaluate_bundle

    rows = list(generate_demo_listings(n=1500, seed=33))
    report = evaluate_bundle(demo_bundle, rows, options=EvaluationOptions(n_resamples=10))
    points = report["figures"]["routing_tradeoff"]["points"]
    assert points and all(isinstance(p["certifiable"], bool) for p in points)
    scorer = BundleScorer(demo_bundle)
    scored = score_rows(scorer, rows)
    loosest = max(
        points, key=lambda p: (p["max_violations_let_through"], p["max_wrong_enforcements"])
    )
    pair = (loosest["max_violations_let_through"], loosest["max_wrong_enforcements"])
    edges = certified_edges(scored, scorer.card, *pair)
    expected = all(
        e.let_through is not None and e.let_through.certified
        and e.wrong_enforcements is not None and e.wrong_enforcements.certified
        for e in edges.values()
    )  # fmt: skip
    assert loosest["certifiable"] == expected == certifiable(scored, scorer.card, *pair)
