"""The controller manager's controllers: ``base.py`` (informer → queue → sync) plus one module
(or folder) per controller."""
