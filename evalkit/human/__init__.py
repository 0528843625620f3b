"""Human labels: reading and storing them, human scores, judge calibration."""
