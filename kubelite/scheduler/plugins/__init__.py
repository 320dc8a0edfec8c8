"""Scheduler plugins, one module each; registered by name in ``framework/registry.py``."""
