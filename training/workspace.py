"""Where offline work keeps its files: the git-ignored ``var/`` folder and MLflow's stores."""

import os
from pathlib import Path

HOME_VARIABLE = "LISTINGGUARD_HOME"


def var_dir() -> Path:
    """``$LISTINGGUARD_HOME`` or ``./var``; created on first use."""
    path = Path(os.environ.get(HOME_VARIABLE, "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def quiet_third_parties() -> None:
    """No telemetry, no hub downloads and caches inside ``var/`` (never in the home folder)."""
    for name, value in (
        ("MLFLOW_DISABLE_TELEMETRY", "true"),
        ("DO_NOT_TRACK", "true"),
        ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"),
        ("ORT_DISABLE_TELEMETRY", "1"),
        ("HF_HUB_OFFLINE", "1"),
        ("HF_DATASETS_OFFLINE", "1"),
        ("HF_HOME", str(var_dir() / "hf")),
    ):
        os.environ.setdefault(name, value)
