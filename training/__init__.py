"""Training: fitting, calibration, thresholds, ONNX export, MLflow tracking and the CLI."""
