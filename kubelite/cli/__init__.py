"""The ``kubelite`` command."""
