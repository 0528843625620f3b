"""Figures from results: aggregation, consistency, the gate and baselines."""
