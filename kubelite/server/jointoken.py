"""The join token: what ``kubelite agent --token`` needs to join a cluster, in k3s' shape.

``K10<ca-hash>::server:<id>.<secret>``:

* ``<ca-hash>`` is the SHA-256 (hex) of the cluster CA bundle the server serves at ``/cacerts``.
  A joining agent fetches that bundle without trusting anyone, checks it against the hash, and
  from then on verifies the server's TLS certificate against it -- so the token pins the
  cluster, as k3s' full-format tokens and kubeadm's ``--discovery-token-ca-cert-hash`` do, and
  the secret is never sent to an unverified server.
* ``<id>.<secret>`` is a Kubernetes bootstrap token (6 + 16 characters of ``[a-z0-9]``); the API
  server authenticates it as ``system:bootstrap:<id>`` (``kubelite.apiserver.bootstraptokens``),
  which may create node-client CSRs and have them auto-approved.

``kubelite server`` keeps the token in ``DATA_DIR/node-token`` (mode 0600): created on first
start, kept across restarts, re-made if the CA changed or the file was removed -- which is how
to rotate it: the old token stops working when the server starts with the new one (nodes that
joined keep their certificates). Pure functions (``parse``, ``ca_hash``,
``generate``) plus ``install``, which writes the file and the bootstrap-token Secret.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

PREFIX = "K10"
TOKEN_FILE = "node-token"
#: the extra group every node joining with the server's own token is in (kubeadm's shape)
EXTRA_GROUP = "system:bootstrappers:kubelite:default-node-token"
#: marks the bootstrap-token Secret that backs node-token; a replaced token's Secret is deleted
OWNER_LABEL = "kubelite.io/node-token"
_FULL = re.compile(r"K10([0-9a-f]{64})::([a-z]+):([a-z0-9]{6})\.([a-z0-9]{16})")
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class JoinToken:
    ca_hash: str
    token_id: str
    secret: str

    def __str__(self) -> str:
        return f"{PREFIX}{self.ca_hash}::server:{self.token_id}.{self.secret}"

    @property
    def bearer(self) -> str:
        """The bootstrap token the agent presents to the API server."""
        return f"{self.token_id}.{self.secret}"

    def matches_ca(self, ca_pem: bytes) -> bool:
        return hmac.compare_digest(ca_hash(ca_pem), self.ca_hash)


def ca_hash(ca_pem: bytes) -> str:
    return hashlib.sha256(ca_pem).hexdigest()


def parse(text: str) -> JoinToken:
    """A join token from its text (ValueError saying what is wrong)."""
    m = _FULL.fullmatch(text.strip())
    if m is None:
        raise ValueError("invalid join token: expected the K10<ca-hash>::server:<id>.<secret> token "
                         "from the server's node-token file")
    return JoinToken(m.group(1), m.group(3), m.group(4))


def generate(ca_pem: bytes) -> JoinToken:
    pick = lambda n: "".join(secrets.choice(_ALPHABET) for _ in range(n))  # noqa: E731
    return JoinToken(ca_hash(ca_pem), pick(6), pick(16))


def _load_or_create(path: Path, ca_pem: bytes) -> JoinToken:
    try:
        token = parse(path.read_text())
        if token.matches_ca(ca_pem):
            return token
    except (OSError, ValueError):
        pass
    token = generate(ca_pem)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(str(token) + "\n")
    os.replace(tmp, path)
    return token


async def install(api: "ApiServer", data_dir: Path, ca_file: Path) -> JoinToken:
    """Serve the CA at /cacerts and make ``DATA_DIR/node-token`` a valid bootstrap token."""
    from kubelite.apiserver.bootstraptokens import ensure_token_secret

    ca_pem = await asyncio.to_thread(ca_file.read_bytes)
    api.cacerts = ca_pem
    token = await asyncio.to_thread(_load_or_create, data_dir / TOKEN_FILE, ca_pem)
    await ensure_token_secret(api, token.token_id, token.secret, extra_groups=[EXTRA_GROUP],
                              description=f"the join token of this kubelite server ({data_dir / TOKEN_FILE})",
                              owner_label=OWNER_LABEL)
    return token
