"""The design brief's import rules, checked on every import statement (functions included)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data", "models", "training", "evaluation", "serving")
ALLOWED_OURS = {
    "data": set(),
    "models": {"data"},
    "training": {"data", "models", "evaluation"},
    "evaluation": {"data", "models"},
    "serving": {"models", "data"},
}
FORBIDDEN_THIRD_PARTY = {
    "serving": {"torch", "sklearn", "mlflow", "pandas", "datasets", "transformers", "scipy"},
    "models": {"torch", "sklearn", "mlflow", "pandas", "datasets", "transformers", "scipy"},
    "data": {"torch", "sklearn", "mlflow", "transformers"},
}


def imported_roots(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in a file, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, root in imported_roots(path):
            ours_not_allowed = root in PACKAGES and root != package
            if ours_not_allowed and root not in ALLOWED_OURS[package]:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {root}")
            if root in FORBIDDEN_THIRD_PARTY.get(package, set()):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {root}")
    return problems


@pytest.mark.parametrize("package", PACKAGES)
def test_package_respects_import_rules(package: str) -> None:
    assert violations(package) == []


def test_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    import training.cli\n    from mlflow import log_metric\n")
    assert imported_roots(module) == [(2, "training"), (3, "mlflow")]
