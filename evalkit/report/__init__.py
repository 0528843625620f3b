"""Renderers that turn a run directory's summary (and diff) into files people and CI read."""
