"""Calibration maps: turn a label's raw logit into a calibrated probability (pure numpy)."""

import numpy as np
from pydantic import BaseModel, ConfigDict


class PlattMap(BaseModel):
    """Platt scaling: ``p = sigmoid(slope * logit + intercept)``, fitted on held-out data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "platt"
    slope: float
    intercept: float

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, same shape as ``logits`` (any shape), float64."""
        return sigmoid(self.slope * np.asarray(logits, dtype=np.float64) + self.intercept)

    def inverse(self, probabilities: np.ndarray) -> np.ndarray:
        """The model logits behind calibrated ``probabilities`` (clipped away from 0 and 1)."""
        p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1 - 1e-15)
        return (np.log(p / (1 - p)) - self.intercept) / self.slope


def sigmoid(values: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, elementwise."""
    values = np.asarray(values, dtype=np.float64)
    # exp of minus the magnitude never overflows: 1 / (1 + e^-x) above 0, e^x / (1 + e^x) below.
    exp_values = np.exp(-np.abs(values))
    result: np.ndarray = np.where(
        values >= 0, 1.0 / (1.0 + exp_values), exp_values / (1.0 + exp_values)
    )
    return result


def calibrate_logits(logits: np.ndarray, maps: list[PlattMap]) -> np.ndarray:
    """Apply one map per column: ``logits`` (n, L) -> probabilities (n, L)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] != len(maps):
        raise ValueError(f"logits of shape {logits.shape} do not match {len(maps)} maps")
    if not maps:
        return logits
    slopes = np.array([m.slope for m in maps], dtype=np.float64)
    intercepts = np.array([m.intercept for m in maps], dtype=np.float64)
    return sigmoid(slopes * logits + intercepts)
