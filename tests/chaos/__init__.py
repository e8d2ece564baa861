"""Fault-injection suite (`make chaos`)."""
