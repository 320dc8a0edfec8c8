"""resource.k8s.io/v1 DeviceClass: a named kind of device (selectors and driver configuration)
that claims request by ``deviceClassName``. Cluster-scoped, no status. Served through
``RESOURCE``."""
from __future__ import annotations

from typing import Any

from kubelite.api.kinds.resource import devices
from kubelite.api.registry import ResourceType, Strategy
from kubelite.machinery.errors import FieldError


class DeviceClassStrategy(Strategy):
    has_status = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
        errs = devices.validate_selectors(spec.get("selectors"), "spec.selectors")
        return errs + devices.validate_config(spec.get("config"), "spec.config", request_names=None)


RESOURCE = ResourceType(
    group="resource.k8s.io", version="v1", kind="DeviceClass", plural="deviceclasses", singular="deviceclass",
    namespaced=False, strategy=DeviceClassStrategy(), schema="io.k8s.api.resource.v1.DeviceClass",
)
