"""The three PATCH body formats kube-apiserver accepts for ordinary writes.

``json_patch`` (RFC 6902, ``application/json-patch+json``), ``merge_patch`` (RFC 7386,
``application/merge-patch+json``) and ``strategic_merge`` (``application/strategic-merge-patch+json``,
built-in kinds only). The API server's PATCH handler picks one by Content-Type; server-side
apply (``application/apply-patch+yaml``) lives in ``kubelite.machinery.apply``. All three are
pure: they return a new document and raise ``StatusError`` (400/422) on bad input.
"""
from kubelite.machinery.patch.jsonpatch import json_patch
from kubelite.machinery.patch.mergepatch import merge_patch
from kubelite.machinery.patch.strategic import strategic_merge

__all__ = ["json_patch", "merge_patch", "strategic_merge"]
