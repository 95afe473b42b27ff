"""Shared test set-up: the unit tests need nothing; tests/docker needs a daemon."""
