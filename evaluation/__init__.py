"""Evaluation of ListingGuard models: metrics, calibration, bootstrap confidence intervals.

The metric modules are pure numpy, so their definitions are tested on hand-computed cases:
:mod:`evaluation.metrics` (ranking metrics of one label), :mod:`evaluation.calibration_metrics`,
:mod:`evaluation.category_metrics` (the regulated-category head). :mod:`evaluation.bootstrap`
puts percentile confidence intervals, row-wise or clustered by seller, on any of them.

On top of them, over a model's scores on labeled rows (:mod:`evaluation.scored`):
:mod:`evaluation.slices` (where the model does worse), :mod:`evaluation.routing_simulation`
(serving's routing replayed, errors per label and per listing, the what-if trade-off curve),
:mod:`evaluation.comparison` (paired differences of two models) and :mod:`evaluation.run`, which
assembles all of them into one report dict, written as HTML and JSON by :mod:`evaluation.report`
(images drawn by :mod:`evaluation.plots`, the only module that needs matplotlib).
"""
