"""policy diff: the decisions a policy change moves, per market and category, on scored rows."""

from pathlib import Path

from click.testing import CliRunner

from data.demo import write_demo_dataset
from data.taxonomy import default_taxonomy
from evaluation.policy_backtest import DecisionChange, backtest_policies
from models.policy import default_policy
from models.policy_file import load_policy
from models.thresholds import LabelThresholds
from tests.evaluation.factories import labeled_row, scored
from training.cli import main

TAXONOMY = default_taxonomy()
EDGES = {label: LabelThresholds(allow=0.3, enforce=0.8) for label in TAXONOMY.label_names}


def test_a_change_is_counted_per_market_category_and_direction() -> None:
    rows = [
        labeled_row(0, market="IN"),  # alcohol: allowed by default, prohibited in IN
        labeled_row(1, market="IN"),
        labeled_row(2, market="US"),  # alcohol: restricted in the US without a licence
        labeled_row(3, market="US", attributes={"alcohol_licence": "TX-1"}),
        labeled_row(4, market="DE"),  # alcohol allowed in both
        labeled_row(5, market="IN"),  # reviewed anyway: the band decides, not the policy
    ]
    probabilities = [[0.01, 0.01, 0.95]] * 5 + [[0.01, 0.01, 0.5]]
    data = scored(rows, probabilities, predicted=["alcohol"] * 6)
    old, new = default_policy(TAXONOMY), load_policy("marketplace-example", TAXONOMY)
    result = backtest_policies(data, EDGES, old, new)
    assert result.changed == {
        DecisionChange("IN", "alcohol", "allow", "block"): 2,
        DecisionChange("US", "alcohol", "allow", "review"): 1,
    }
    assert result.n_changed == 3
    assert result.actions_old == {"allow": 5, "review": 1}
    assert result.actions_new == {"allow": 2, "review": 2, "block": 2}
    text = "\n".join(result.lines(old, new))
    assert "3 decisions change (3 stricter, 0 looser)" in text
    assert "l-0 'listing 0'" in text


def test_policy_diff_runs_on_a_bundle_and_a_data_file(demo_bundle: Path, tmp_path: Path) -> None:
    data = write_demo_dataset(tmp_path / "demo", n=300, seed=9)
    args = ["policy", "diff", "default", "marketplace-example", "--data", str(data)]
    result = CliRunner().invoke(main, [*args, "--mapping", "demo", "--model", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    assert "policy default-v1 -> marketplace-example-2026-12 on 300 listings" in result.output
    bad = CliRunner().invoke(main, ["policy", "check", "nowhere", "--model", str(demo_bundle)])
    assert bad.exit_code == 1 and "no such policy file" in bad.output
