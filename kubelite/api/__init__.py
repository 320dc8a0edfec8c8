"""Kinds and their schemas: fields, defaults, validation, merge keys, printer columns (no I/O)."""
