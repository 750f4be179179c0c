"""Listing and label schema, taxonomy, loaders, validation, fingerprints, splits, demo data."""
