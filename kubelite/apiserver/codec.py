"""Request body decoding and response format negotiation.

Bodies arrive as JSON, YAML or Kubernetes protobuf (kubectl's typed commands and helm's
release Secrets send protobuf: wire-contract.md §A4); replies are JSON (or YAML when that is all
the client accepts). ``wants_table`` / ``wants_metadata`` read the ``as=Table`` and
``as=PartialObjectMetadata`` Accept parameters kubectl uses.
"""
from __future__ import annotations

from typing import Any, Callable

import orjson
import yaml

from kubelite.machinery import errors
from kubelite.machinery.protobuf import decode as decode_protobuf

MAX_BODY = 3 * 1024 * 1024
PROTOBUF = "application/vnd.kubernetes.protobuf"


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str,
                resolve_kind: Callable[[str, str], str | None] | None = None) -> Any:
    """The request body as JSON data; 400 for malformed input, 415 for unknown formats."""
    if len(body) > MAX_BODY:
        raise errors.too_large()
    mt = media_type(content_type)
    if mt == PROTOBUF:
        if resolve_kind is None:
            raise errors.unsupported_media_type(content_type)
        return decode_protobuf(body, resolve_kind)
    if not body.strip():
        raise errors.bad_request("the request body is empty")
    if mt in ("application/yaml", "application/apply-patch+yaml", "application/x-yaml", "text/yaml"):
        try:
            # JSON is YAML; orjson is faster and exact for the common case of JSON bodies.
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        try:
            docs = [d for d in yaml.safe_load_all(body) if d is not None]
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error converting YAML to JSON: {_one_line(e)}") from None
        if len(docs) != 1:
            raise errors.bad_request("error converting YAML to JSON: expected exactly one YAML document")
        return _yaml_to_json(docs[0])
    if mt in ("", "application/json", "application/json-patch+json", "application/merge-patch+json",
              "application/strategic-merge-patch+json", "*/*"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    raise errors.unsupported_media_type(content_type)


def _yaml_to_json(value: Any) -> Any:
    """YAML may carry dates, sets, non-string keys: normalise to what JSON can express."""
    if isinstance(value, dict):
        return {str(k): _yaml_to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_to_json(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def accept_params(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";")]
        params = {}
        for b in bits[1:]:
            if "=" in b:
                k, v = b.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((bits[0].lower(), params))
    return out


def wants_as(accept: str) -> str:
    """"Table", "PartialObjectMetadata", "PartialObjectMetadataList" or "" (plain objects):
    the first acceptable entry wins, as the client lists them in preference order."""
    for mt, params in accept_params(accept):
        kind = params.get("as")
        if kind and params.get("g") == "meta.k8s.io" and params.get("v", "v1") in ("v1", "v1beta1"):
            if kind in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                return kind
        if mt in ("application/json", "application/yaml", "*/*", PROTOBUF, "application/*") and not kind:
            return ""
    return ""


def wants_yaml(accept: str) -> bool:
    types = [mt for mt, _ in accept_params(accept)]
    return bool(types) and types[0] == "application/yaml"


def encode(obj: Any, accept: str) -> tuple[bytes, str]:
    if wants_yaml(accept):
        return yaml.safe_dump(obj, sort_keys=False).encode(), "application/yaml"
    return orjson.dumps(obj), "application/json"
