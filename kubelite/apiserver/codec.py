"""Request body decoding and response format negotiation.

Bodies arrive as JSON, YAML or Kubernetes protobuf (kubectl's typed commands and helm's
release Secrets send protobuf: wire-contract.md §A4); replies are JSON (or YAML when that is all
the client accepts). ``wants_table`` / ``wants_metadata`` read the ``as=Table`` and
``as=PartialObjectMetadata`` Accept parameters kubectl uses.

Big bodies never stall the event loop (``decode_body_async``): a 2.9 MB YAML body takes
seconds to parse even with libyaml's C parser, and that parser holds the GIL while it composes
a whole document, so a thread would not help -- big YAML is parsed in a helper process (one,
started on first use) and comes back pickled. Other big bodies (protobuf) decode on a thread;
JSON goes through orjson, which parses 3 MB in milliseconds.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import orjson
import yaml

from kubelite.machinery import errors
from kubelite.machinery.protobuf import decode as decode_protobuf

MAX_BODY = 3 * 1024 * 1024
PROTOBUF = "application/vnd.kubernetes.protobuf"
#: how many nodes YAML aliases may add to a document when expanded (a few real anchors reuse
#: small blocks; an alias "bomb" multiplies them a billion times)
MAX_YAML_ALIAS_EXPANSION = 100_000
#: deepest nesting a request body may have (real objects, even large CRDs, stay under ~40)
MAX_DEPTH = 200
#: bodies at least this big are decoded off the event loop (smaller ones decode in well under
#: a millisecond, less than the hand-off to a thread costs)
OFFLOAD_BYTES = 32 * 1024
#: threads decoding big bodies: two, so a flood of big bodies queues here instead of taking
#: every thread the server has (the GIL lets no more than one parse at a time anyway)
_DECODERS = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="body-decode")
_yaml_process: concurrent.futures.ProcessPoolExecutor | None = None
YAML_TYPES = ("application/yaml", "application/apply-patch+yaml", "application/x-yaml", "text/yaml")
log = logging.getLogger(__name__)
#: libyaml's parser and emitter (C) when PyYAML was built with it, ~4x faster than pure Python
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str,
                resolve_kind: Callable[[str, str], str | None] | None = None) -> Any:
    """The request body as JSON data; 400 for malformed input, 415 for unknown formats."""
    if len(body) > MAX_BODY:
        raise errors.too_large()
    value = _decode(body, content_type, resolve_kind)
    check_depth(value)
    return value


async def decode_body_async(body: bytes, content_type: str,
                            resolve_kind: Callable[[str, str], str | None] | None = None) -> Any:
    """``decode_body`` for request handlers: big bodies are decoded off the event loop, so
    it keeps serving other requests meanwhile."""
    if len(body) > MAX_BODY:
        raise errors.too_large()
    if len(body) >= OFFLOAD_BYTES and media_type(content_type) in YAML_TYPES:
        try:
            return orjson.loads(body)  # JSON is YAML, and orjson needs no help
        except orjson.JSONDecodeError:
            pass
        outcome = await _in_yaml_process(body)
        if outcome is not None:
            kind, value = outcome
            if kind == "error":
                raise errors.StatusError(*value)
            return value
    return await off_loop(len(body), decode_body, body, content_type, resolve_kind)


async def _in_yaml_process(body: bytes) -> tuple[str, Any] | None:
    """``_decode_yaml_outcome(body)`` in the helper process; None if that process cannot be
    had (the caller then decodes on a thread)."""
    global _yaml_process
    loop = asyncio.get_running_loop()
    for _ in range(2):
        if _yaml_process is None:
            # spawn, not fork: a fork of a server with threads and open sockets is unsafe
            _yaml_process = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        pool = _yaml_process
        try:
            return await loop.run_in_executor(pool, _decode_yaml_outcome, body)
        except BrokenProcessPool:  # the helper died (killed, out of memory): start another
            log.warning("YAML decoder process died; starting a new one")
            if _yaml_process is pool:
                _yaml_process = None
            pool.shutdown(wait=False, cancel_futures=True)
    return None


def _decode_yaml_outcome(body: bytes) -> tuple[str, Any]:
    """Runs in the helper process: ("ok", value) or ("error", StatusError fields) -- the
    exception itself does not survive pickling."""
    try:
        return "ok", decode_body(body, "application/yaml")
    except errors.StatusError as e:
        return "error", (e.code, e.reason, e.message, e.details)


def shutdown_decoders() -> None:
    """Stop the YAML helper process (the server calls this when it stops)."""
    global _yaml_process
    if _yaml_process is not None:
        _yaml_process.shutdown(wait=False, cancel_futures=True)
        _yaml_process = None


async def off_loop(size: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` -- pure work over a request body of ``size`` bytes (decoding, type checks
    of the decoded object) -- on a decoder thread when the body is big, inline otherwise."""
    if size < OFFLOAD_BYTES:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(_DECODERS, fn, *args)


def _decode(body: bytes, content_type: str, resolve_kind: Callable[[str, str], str | None] | None) -> Any:
    mt = media_type(content_type)
    if mt == PROTOBUF:
        if resolve_kind is None:
            raise errors.unsupported_media_type(content_type)
        try:
            return decode_protobuf(body, resolve_kind)
        except RecursionError:  # self-nesting messages (JSONSchemaProps) nested without end
            raise errors.bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels") from None
    if not body.strip():
        raise errors.bad_request("the request body is empty")
    if mt in YAML_TYPES:
        try:
            # JSON is YAML; orjson is faster and exact for the common case of JSON bodies.
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        docs = [d for d in _load_yaml(body) if d is not None]
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


def check_size(value: Any) -> None:
    """Refuse an object whose JSON encoding is larger than a request body may be: a patch can
    make an object bigger than any body the client sent (kube-apiserver answers such results
    413 too, from its storage size limit)."""
    try:
        size = len(orjson.dumps(value))
    except TypeError:  # a value orjson cannot encode (huge integers) is refused elsewhere
        return
    if size > MAX_BODY:
        raise errors.too_large()


def check_depth(value: Any) -> None:
    """Refuse bodies nested deeper than MAX_DEPTH, iteratively: the server's recursive code
    (patches, apply, validation) and orjson's encoder (255 levels, with list and watch-event
    wrapping on top) must be able to handle whatever gets stored."""
    if not isinstance(value, (dict, list)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        children = v.values() if isinstance(v, dict) else v
        for c in children:
            if isinstance(c, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise errors.bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")
                stack.append((c, depth + 1))


def _load_yaml(body: bytes) -> list[Any]:
    """Every document of a YAML body, refusing what would stall or crash the server: alias
    cycles, alias "bombs" that expand far beyond the body, and nesting deeper than Python's
    stack (kube's YAML decoder refuses the same as "excessive aliasing")."""
    loader = _YAML_LOADER(body)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            _check_aliases(node)
            docs.append(loader.construct_document(node))
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {_one_line(e)}") from None
    except RecursionError:
        raise errors.bad_request("error converting YAML to JSON: the document is nested too deeply") from None
    finally:
        loader.dispose()
    return docs


def _check_aliases(root: yaml.Node) -> None:
    """Counts the nodes the document expands to (aliases counted at every use), iteratively,
    in time linear in the distinct nodes; a cycle, an expansion past the limit or nesting
    deeper than MAX_DEPTH is a 400."""
    size: dict[int, int] = {}
    distinct = 0
    stack: list[tuple[yaml.Node, bool, int]] = [(root, False, 1)]
    on_path: set[int] = set()
    while stack:
        node, done, depth = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        if key in size:
            continue
        if key in on_path:
            raise errors.bad_request("error converting YAML to JSON: yaml: document contains a recursive alias")
        if depth > MAX_DEPTH:  # refused before construction recurses (libyaml's parser does not)
            raise errors.bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")
        distinct += 1
        on_path.add(key)
        stack.append((node, True, depth))
        stack.extend((c, False, depth + 1) for c in children if id(c) not in size)
    if size[id(root)] > distinct + MAX_YAML_ALIAS_EXPANSION:
        raise errors.bad_request("error converting YAML to JSON: yaml: document contains excessive aliasing")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


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
        return yaml.dump(obj, Dumper=_YAML_DUMPER, sort_keys=False).encode(), "application/yaml"
    return orjson.dumps(obj), "application/json"
