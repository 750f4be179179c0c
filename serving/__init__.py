"""Serving: the FastAPI scoring service, review queue persistence and console."""
