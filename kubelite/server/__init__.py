"""Bundles the components into ``kubelite server`` (start order, readiness, disable switches)."""
