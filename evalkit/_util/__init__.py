"""Small helpers that know nothing of evaluation: secrets, text safety, numbers, paths, signals."""
