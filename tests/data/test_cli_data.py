"""``listingguard data``: reports, problem listing, one-line errors, demo data."""

from pathlib import Path

from click.testing import CliRunner

from tests.data.factories import write_text
from training.cli_data import data_group

SMS_MAPPING = "sms-spam-collection"


def test_validate_prints_the_report_and_capped_problems(tmp_path: Path) -> None:
    lines = ["ham\thi", "spam\twin"] + [f"eggs\tbad {i}" for i in range(5)]
    path = write_text(tmp_path, "SMS", "\n".join(lines) + "\n")
    result = CliRunner().invoke(
        data_group, ["validate", str(path), "--mapping", SMS_MAPPING, "--show-problems", "2"]
    )
    assert result.exit_code == 1, "5 of 7 rows dropped is more than the default 1%"
    assert "5 of 7 rows dropped (71.4%, more than the 1.0% allowed)" in result.output
    assert "rows: 7 read, 2 kept, 5 dropped" in result.output, "the report comes first"
    assert "fingerprint: " in result.output
    assert f"{path}:3: fraud (column 0): 'eggs' (expected one of 'ham', 'spam')" in result.output
    assert "... and 3 more" in result.output


def test_unparseable_file_gives_one_line_and_exit_status_1(tmp_path: Path) -> None:
    path = write_text(tmp_path, "bad.jsonl", '{"listing_id": "a"\n')
    result = CliRunner().invoke(data_group, ["validate", str(path), "--mapping", "demo"])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}:1:19: invalid JSON: Expecting ',' delimiter"
    assert "Traceback" not in result.output


def test_bad_mapping_gives_one_line_and_exit_status_1(tmp_path: Path) -> None:
    mapping = write_text(tmp_path, "m.yaml", "name: x\nlisting: {title: t}\nread: {quoting: all}\n")
    data = write_text(tmp_path, "a.csv", "t\nMug\n")
    result = CliRunner().invoke(data_group, ["validate", str(data), "--mapping", str(mapping)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {mapping}: read.quoting: Input should be")
    assert len(result.output.strip().splitlines()) == 1


def test_demo_writes_data_that_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    written = runner.invoke(data_group, ["demo", str(tmp_path / "demo"), "--rows", "300"])
    assert written.exit_code == 0, written.output
    data = tmp_path / "demo" / "demo-listings.jsonl"
    assert str(data) in written.output
    checked = runner.invoke(data_group, ["validate", str(data), "--mapping", "demo"])
    assert checked.exit_code == 0, checked.output
    assert "rows: 300 read, 300 kept, 0 dropped" in checked.output
