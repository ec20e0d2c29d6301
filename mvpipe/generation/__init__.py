"""Turning clip requests into takes: providers, the runner, the journal."""
