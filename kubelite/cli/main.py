"""``kubelite`` command line: ``server`` (the control plane with an optional node agent)."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler

from kubelite.server.run import ServerConfig, default_data_dir, run_server

console = Console(stderr=True)


def _run(coro) -> None:  # noqa: ANN001
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """kubelite: a Kubernetes-compatible container orchestrator."""
    level = logging.WARNING - 10 * min(verbose + 1, 2)
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])


@cli.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="State directory (default /var/lib/kubelite as root, else ~/.local/share/kubelite).")
@click.option("--bind-address", default="127.0.0.1", show_default=True, help="Address the API server listens on.")
@click.option("--https-listen-port", default=6443, show_default=True, type=int, help="API server port.")
@click.option("--write-kubeconfig", type=click.Path(path_type=Path), default=None,
              help="Where to write the admin kubeconfig (default DATA_DIR/kubeconfig.yaml).")
@click.option("--datastore-endpoint", default="", help="Storage endpoint (default: embedded SQLite in the data dir).")
@click.option("--disable-agent", is_flag=True, help="Do not run a node agent on this machine.")
@click.option("--disable-scheduler", is_flag=True, help="Do not run the scheduler.")
@click.option("--disable-controllers", is_flag=True, help="Do not run the controller manager.")
def server(data_dir: Path | None, bind_address: str, https_listen_port: int, write_kubeconfig: Path | None,
           datastore_endpoint: str, disable_agent: bool, disable_scheduler: bool, disable_controllers: bool) -> None:
    """Run the control plane (API server, scheduler, controllers) and a node agent."""
    cfg = ServerConfig(data_dir=data_dir or default_data_dir(), bind_address=bind_address,
                       https_port=https_listen_port, kubeconfig=write_kubeconfig,
                       datastore_endpoint=datastore_endpoint, disable_agent=disable_agent,
                       disable_scheduler=disable_scheduler, disable_controllers=disable_controllers)

    def ready(c: ServerConfig) -> None:
        console.print(f"kubelite is ready: https://{c.bind_address}:{c.https_port}")
        console.print(f"kubeconfig written to {c.kubeconfig_path}")
        console.print(f"  export KUBECONFIG={c.kubeconfig_path}")

    _run(run_server(cfg, on_ready=ready))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
