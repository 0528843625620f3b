"""Scorers turn an output (and the case's reference) into typed Scores."""
