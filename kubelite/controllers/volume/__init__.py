"""Persistent volumes: the PV/PVC binder (``pvbinder.py``) and the built-in local-path dynamic
provisioner it drives (``localpath.py``), as k3s ships them. The controller manager finds
``PersistentVolumeBinder`` here."""
from kubelite.controllers.volume.pvbinder import PersistentVolumeBinder

__all__ = ["PersistentVolumeBinder"]
