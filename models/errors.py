"""Domain exceptions of the run-time model layer. This module imports nothing."""


class BundleError(Exception):
    """A model bundle cannot be used: unknown format, missing file, or outputs unlike its card."""


class PolicyError(Exception):
    """A policy file that cannot be used; the message names the file, line and clause."""
