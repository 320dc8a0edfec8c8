"""The scheduling framework: contracts (``interface``), pod/node views (``types``), compiled
terms (``terms``), the runtime that calls plugins in phase order (``runtime``) and the plugin
registry (``registry``)."""
