"""``kubelite secrets-encrypt status|rotate-keys|reencrypt``: k3s' verbs for encryption at rest.

Like k3s, the command talks to the running server (its ``/v1-kubelite/encrypt/...`` endpoints,
with the admin kubeconfig), so keys rotate and objects are re-encrypted online: ``rotate-keys``
puts a fresh key first in the EncryptionConfiguration (old keys stay for reading) and rewrites
every guarded object under it; ``reencrypt`` rewrites what is not yet under the active key
(after editing the file by hand, e.g. adding ``configmaps``); ``status`` lists the providers and
how many objects each one holds.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

console = Console(stderr=True)
out = Console()


async def _call(kubeconfig: str | None, method: str, op: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    from kubelite.client.transport import HTTPTransport

    transport = HTTPTransport.from_kubeconfig(kubeconfig, user_agent="kubelite-secrets-encrypt")
    try:
        resp = await transport.request(method, f"/v1-kubelite/encrypt/{op}",
                                       body=json.dumps(body).encode() if body is not None else None,
                                       content_type="application/json" if body is not None else None)
    finally:
        await transport.close()
    data = resp.json() if resp.body else {}
    if resp.status >= 400:
        raise click.ClickException(data.get("message") or f"HTTP {resp.status}")
    return data


def _print(status: dict[str, Any]) -> None:
    if not status.get("enabled"):
        out.print("Encryption Status: Disabled")
        return
    out.print("Encryption Status: Enabled")
    out.print(f"Configuration: {status.get('configFile')} (sha256 {status.get('configHash', '')[:16]})")
    out.print("Current Rotation Stage: " + ("reencrypt_finished" if status.get("allCurrent") else "reencrypt_needed"))
    for rule in status.get("rules") or []:
        out.print(f"\nResources: {', '.join(rule['resources'])}")
        out.print(f"{'Active':<8}{'Provider':<40}")
        for p in rule["providers"]:
            out.print(f"{'*' if p == rule['activeProvider'] else '':<8}{p:<40}")
    objects = status.get("objects") or {}
    if objects:
        out.print("\nStored objects by provider:")
        for res, by in sorted(objects.items()):
            out.print(f"  {res}: " + ", ".join(f"{k}={v}" for k, v in sorted(by.items())))
    if "rewritten" in status:
        out.print(f"\nObjects re-encrypted: {status['rewritten']}")


def _kubeconfig(kubeconfig: str | None, data_dir: Path | None) -> str | None:
    from kubelite.server.run import default_data_dir
    from kubelite.sim.command import kubeconfig_path

    return kubeconfig_path(kubeconfig, data_dir or default_data_dir())


def _run(kubeconfig: str | None, data_dir: Path | None, method: str, op: str, body: dict[str, Any] | None = None) -> None:
    try:
        status = asyncio.run(_call(_kubeconfig(kubeconfig, data_dir), method, op, body))
    except click.ClickException:
        raise
    except Exception as e:  # noqa: BLE001 - no server, bad kubeconfig: one line
        raise click.ClickException(f"{type(e).__name__}: {e}") from None
    _print(status)


_options = [
    click.option("--kubeconfig", default=None, help="Admin kubeconfig (default $KUBECONFIG, else DATA_DIR/kubeconfig.yaml)."),
    click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="The server's data dir."),
]


def _with_options(f):  # noqa: ANN001, ANN202
    for opt in reversed(_options):
        f = opt(f)
    return f


@click.group("secrets-encrypt")
def secrets_encrypt() -> None:
    """Encryption at rest of Secrets (k3s' secrets-encrypt)."""


@secrets_encrypt.command("status")
@_with_options
def status(kubeconfig: str | None, data_dir: Path | None) -> None:
    """Show the providers, the active key and how many objects each key holds."""
    _run(kubeconfig, data_dir, "GET", "status")


@secrets_encrypt.command("rotate-keys")
@_with_options
def rotate_keys(kubeconfig: str | None, data_dir: Path | None) -> None:
    """Put a new key first and re-encrypt every guarded object with it, online."""
    _run(kubeconfig, data_dir, "PUT", "config", {"stage": "rotate_keys"})


@secrets_encrypt.command("reencrypt")
@_with_options
def reencrypt(kubeconfig: str | None, data_dir: Path | None) -> None:
    """Rewrite every guarded object that is not under the active key."""
    _run(kubeconfig, data_dir, "PUT", "config", {"stage": "reencrypt"})
