"""The certificates.k8s.io/v1 group: CertificateSigningRequest. ``RESOURCES`` feeds ``kinds.BUILTIN``."""
from __future__ import annotations

from kubelite.api.kinds.certificates import certificatesigningrequest
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [certificatesigningrequest.RESOURCE]
