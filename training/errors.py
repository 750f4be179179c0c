"""Domain exceptions of training. This module imports nothing."""


class TrainingError(Exception):
    """Training cannot go on: bad data, a bad configuration or an impossible target."""


class ParityError(TrainingError):
    """The exported ONNX graph does not reproduce the in-memory model within tolerance."""


class RegistryError(TrainingError):
    """The MLflow registry does not hold what was asked for."""
