"""Honest row handling: long text is cut (never a dropped row), a description can stand in for
the title, and too many dropped rows fail ``data validate`` and ``train``."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from data.errors import DataError
from data.loaders import load_labeled
from data.schema import MAX_TITLE_CHARS
from tests.data.factories import write_mapping
from training.cli import main

MAPPING = """
name: reviews
read: {format: jsonl}
listing: {listing_id: id, title: title, description: text}
labels:
  fraud: {column: label, values: {deceptive: 1, truthful: 0}}
"""


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_long_text_is_cut_with_a_warning_and_the_row_kept(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, MAPPING)
    data = write_rows(
        tmp_path / "rows.jsonl",
        [
            {"id": "1", "title": "t" * 1500, "text": "", "label": "truthful"},
            {"id": "2", "title": "short", "text": "x", "label": "deceptive"},
        ],
    )
    result = load_labeled(data, mapping)
    assert [len(row.listing.title) for row in result.rows] == [MAX_TITLE_CHARS, 5]
    assert result.dropped_rows == 0
    assert result.truncation_lines() == [
        f"warning: 1 rows kept with title: truncated to {MAX_TITLE_CHARS} characters "
        f"(first at {data}:1)"
    ]


def test_a_description_can_stand_in_for_the_title(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, MAPPING)
    data = write_rows(
        tmp_path / "rows.jsonl",
        [
            {"id": "1", "text": "a long review text", "label": "truthful"},
            {"id": "2", "title": "", "text": "   ", "label": "truthful"},
        ],
    )
    result = load_labeled(data, mapping)
    assert [row.listing.listing_id for row in result.rows] == ["1"]
    assert result.dropped_by_reason == {"title: required unless the description has text": 1}


def test_too_many_dropped_rows_fail_naming_reasons_and_first_lines(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, MAPPING)
    rows = [{"id": str(i), "title": "t", "text": "", "label": "truthful"} for i in range(8)]
    rows += [{"id": "8", "title": "t", "text": "", "label": "TRUE"}]
    rows += [{"id": "9", "title": "t", "text": "", "label": "x"}]
    data = write_rows(tmp_path / "rows.jsonl", rows)
    result = load_labeled(data, mapping)
    result.check_dropped_share(0.2)
    with pytest.raises(DataError) as caught:
        result.check_dropped_share(0.1)
    message = str(caught.value)
    assert "2 of 10 rows dropped (20.0%, more than the 10.0% allowed)" in message
    assert f"2 x fraud: not in value map (first at {data}:9)" in message


def test_validate_and_train_exit_1_when_the_value_map_matches_nothing(tmp_path: Path) -> None:
    write_mapping(tmp_path, MAPPING)
    rows = [{"id": str(i), "title": "t", "text": "", "label": "yes"} for i in range(5)]
    data = write_rows(tmp_path / "rows.jsonl", rows)
    mapping_file = str(tmp_path / "mapping.yaml")
    runner = CliRunner()
    validated = runner.invoke(main, ["data", "validate", str(data), "--mapping", mapping_file])
    assert validated.exit_code == 1, validated.output
    assert "5 of 5 rows dropped" in validated.output
    trained = runner.invoke(main, ["train", "--data", str(data), "--mapping", mapping_file])
    assert trained.exit_code == 1 and "5 of 5 rows dropped" in trained.output
    lenient = runner.invoke(
        main,
        ["data", "validate", str(data), "--mapping", mapping_file, "--max-dropped-share", "1"],
    )
    assert lenient.exit_code == 0, lenient.output
