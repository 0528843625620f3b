"""Helpers several test folders share (no test module imports another test module)."""
