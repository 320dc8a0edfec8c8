"""Server-side apply: field ownership (``metadata.managedFields``) and the apply merge.

The API server calls ``apply`` for ``application/apply-patch+yaml`` PATCHes and
``record_update`` after every other write. ``fieldpath`` holds the FieldsV1 encoding,
``typed`` the schema-aware walks, ``managed`` the entry bookkeeping.
"""
from kubelite.machinery.apply.fieldmanager import (
    AUTO,
    LAST_APPLIED,
    apply,
    record_update,
    schema_for,
)

__all__ = ["AUTO", "LAST_APPLIED", "apply", "record_update", "schema_for"]
