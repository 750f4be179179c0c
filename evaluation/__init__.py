"""Evaluation of ListingGuard models: metrics, calibration, bootstrap confidence intervals.

The metric modules are pure numpy, so their definitions are tested on hand-computed cases:
:mod:`evaluation.metrics` (ranking metrics of one label), :mod:`evaluation.calibration_metrics`,
:mod:`evaluation.category_metrics` (the regulated-category head). :mod:`evaluation.bootstrap`
puts percentile confidence intervals, row-wise or clustered by seller, on any of them.
"""
