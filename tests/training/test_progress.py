"""Long steps report progress with an ETA, and training shows each step."""

import pytest

from training import progress as progress_module
from training.baseline import HashedLinearModel
from training.config import load_config
from training.progress import StepProgress


def test_progress_lines_carry_counts_and_an_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "REPORT_EVERY_S", 0.0)
    lines: list[str] = []
    step = StepProgress(lines.append, "hashing features", 4, unit=" rows")
    step.advance(1)
    step.advance(3)
    step.finish()
    assert lines[0].startswith("hashing features: 1/4 rows (25%), ")
    assert "s left" in lines[0]
    assert len(lines) == 2, "the last unit reports as done, not with an ETA"
    assert lines[1].startswith("hashing features: done in ")


def test_fitting_reports_hashing_and_heads(demo_rows: list) -> None:
    lines: list[str] = []
    HashedLinearModel(load_config().features).fit(demo_rows[:400], progress=lines.append)
    assert any(line.startswith("hashing features: done in") for line in lines)
    assert any(line.startswith("fitting heads: done in") for line in lines)
