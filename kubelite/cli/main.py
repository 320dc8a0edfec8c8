"""``kubelite`` command line: ``server`` (the control plane with an optional node agent).

Logging and start-up errors are ``output.py``'s: every failure is one line and exit status 1
(``--debug`` adds the traceback), the logging flags work before or after the subcommand.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console

import kubelite
from kubelite.cli.output import configure_logging, fail, log_options
from kubelite.cli.secrets_encrypt import secrets_encrypt
from kubelite.server.run import ServerConfig, default_data_dir, run_server

console = Console(stderr=True)


def _run(coro) -> None:  # noqa: ANN001
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


class GoDuration(click.ParamType):
    """A Go duration flag value ("1h", "30m", "1h30m"), as kube's flags take them: seconds."""

    name = "duration"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if isinstance(value, (int, float)):
            return float(value)
        from kubelite.api.conformance import parse_duration

        try:
            seconds = parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if seconds < 0:
            self.fail(f"must not be negative: {value}", param, ctx)
        return seconds


@click.group()
@click.version_option(kubelite.__version__, "--version", prog_name="kubelite",
                      message=f"%(prog)s version %(version)s (Kubernetes {kubelite.KUBERNETES_VERSION})")
@click.option("-v", "--verbose", count=True, help="More logging (-v: debug; the default is info).")
@click.option("--debug", is_flag=True, help="Debug logging, and tracebacks for errors.")
def cli(verbose: int, debug: bool) -> None:
    """kubelite: a Kubernetes-compatible container orchestrator."""
    configure_logging(verbose=verbose + 1, debug=debug)  # INFO by default: start-up progress


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
@click.option("--secrets-encryption", is_flag=True,
              help="Encrypt Secrets at rest (key in DATA_DIR/cred/encryption-config.json, made on first start).")
@click.option("--encryption-provider-config", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="An EncryptionConfiguration file (apiserver.config.k8s.io/v1) of your own; implies encryption.")
@click.option("--audit-log-path", default="", help="Write audit events here, one JSON line each ('-': stdout).")
@click.option("--audit-policy-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The audit.k8s.io/v1 Policy deciding what is audited at which level.")
@click.option("--anonymous-auth", type=click.BOOL, default=True, show_default=True, metavar="BOOL",
              help="Serve requests without credentials as system:anonymous (kube's flag; false: 401).")
@click.option("--event-ttl", type=GoDuration(), default="1h0m0s", show_default=True,
              help="How long Events are kept after their last update (kube-apiserver's flag; 0: for ever).")
@log_options
@click.option("--node-name", default="", help="The embedded agent's node name (default: the host name).")
@click.option("--node-ip", default="", help="The embedded agent's node IP (default: the bind address).")
@click.option("--kubelet-arg", "kubelet_args", multiple=True, metavar="KEY=VALUE",
              help="Kubelet setting (port, max-pods, node-status-update-frequency, node-lease-renew-interval); "
                   "repeatable.")
def server(data_dir: Path | None, bind_address: str, https_listen_port: int, write_kubeconfig: Path | None,
           datastore_endpoint: str, disable_agent: bool, disable_scheduler: bool, disable_controllers: bool,
           secrets_encryption: bool, encryption_provider_config: Path | None, audit_log_path: str,
           audit_policy_file: Path | None, anonymous_auth: bool, event_ttl: float, node_name: str, node_ip: str,
           kubelet_args: tuple[str, ...]) -> None:
    """Run the control plane (API server, scheduler, controllers) and a node agent."""
    args: dict[str, str] = {}
    for item in kubelet_args:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--kubelet-arg")
        args[k.lstrip("-")] = v
    cfg = ServerConfig(data_dir=data_dir or default_data_dir(), bind_address=bind_address,
                       https_port=https_listen_port, kubeconfig=write_kubeconfig,
                       datastore_endpoint=datastore_endpoint, disable_agent=disable_agent,
                       disable_scheduler=disable_scheduler, disable_controllers=disable_controllers,
                       anonymous_auth=anonymous_auth, secrets_encryption=secrets_encryption,
                       encryption_provider_config=encryption_provider_config,
                       audit_log_path=audit_log_path, audit_policy_file=audit_policy_file,
                       event_ttl=int(event_ttl), node_name=node_name, node_ip=node_ip,
                       kubelet_args=args)

    def ready(c: ServerConfig) -> None:
        console.print(f"kubelite is ready: https://{c.bind_address}:{c.https_port}")
        console.print(f"kubeconfig written to {c.kubeconfig_path}")
        console.print(f"  export KUBECONFIG={c.kubeconfig_path}")

    from kubelite.apiserver.audit import AuditPolicyError
    from kubelite.apiserver.encryption import EncryptionConfigError

    try:
        _run(run_server(cfg, on_ready=ready))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except EncryptionConfigError as e:
        fail(f"encryption configuration {cfg.encryption_config_path}: {e}", e)
    except AuditPolicyError as e:
        fail(f"audit policy {audit_policy_file}: {e}", e)
    except Exception as e:  # noqa: BLE001 - every start-up failure is one line, never a traceback
        from kubelite.server.startup import explain

        fail(explain(e, cfg) or f"{type(e).__name__}: {e}", e)


@cli.command("sim")
@click.option("--nodes", required=True, type=click.IntRange(min=0), help="How many simulated nodes to run.")
@click.option("--kubeconfig", default=None,
              help="Cluster to join (default $KUBECONFIG, else the kubeconfig `kubelite server` writes).")
@click.option("--node-prefix", default="sim", show_default=True, help="Nodes are named PREFIX-0 .. PREFIX-(N-1).")
@click.option("--cpu", default="32", show_default=True, help="CPU capacity of each node.")
@click.option("--memory", default="256Gi", show_default=True, help="Memory capacity of each node.")
@click.option("--pods", default=110, show_default=True, type=click.IntRange(min=0), help="Pod capacity of each node.")
@click.option("--ephemeral-storage", default="1Ti", show_default=True, help="Ephemeral-storage capacity of each node.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Extra node label (repeatable).")
@click.option("--taint", "taints", multiple=True, metavar="KEY[=VALUE]:EFFECT", help="Node taint (repeatable).")
@click.option("--extended", multiple=True, metavar="NAME=QUANTITY",
              help="Extended resource capacity, e.g. nvidia.com/gpu=4 (repeatable).")
@click.option("--zones", default="zone-a,zone-b,zone-c", show_default=True,
              help="Comma-separated zones, assigned round-robin (topology.kubernetes.io/zone); '' for none.")
@click.option("--pod-run-time", default="5", show_default=True,
              help="Seconds until pods whose restartPolicy is not Always succeed, or 'never'.")
@click.option("--pod-stop-time", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds a simulated container takes to exit after SIGTERM (capped by the pod's grace period).")
@click.option("--lease-interval", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds between node Lease renewals.")
@click.option("--node-status-interval", default=60.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Seconds between node status refreshes.")
@click.option("--workers", default=200, show_default=True, type=click.IntRange(min=1),
              help="Pod status writes in flight at most.")
@log_options
def sim(nodes: int, kubeconfig: str | None, node_prefix: str, cpu: str, memory: str, pods: int,
        ephemeral_storage: str, labels: tuple[str, ...], taints: tuple[str, ...], extended: tuple[str, ...],
        zones: str, pod_run_time: str, pod_stop_time: float, lease_interval: float, node_status_interval: float, workers: int) -> None:
    """Run simulated nodes (like kwok): register N hollow nodes, renew their Leases and play
    kubelet for the pods bound to them. Stopping it stops the heartbeats, as a dead node would."""
    from kubelite.machinery.errors import StatusError
    from kubelite.sim.command import SimOptions, check_options, kubeconfig_path, run_sim

    opts = SimOptions(nodes=nodes, prefix=node_prefix, cpu=cpu, memory=memory, pods=pods,
                      ephemeral_storage=ephemeral_storage, labels=list(labels), taints=list(taints),
                      extended=list(extended), zones=zones, pod_run_time=pod_run_time, pod_stop_time=pod_stop_time,
                      lease_interval=lease_interval, node_status_interval=node_status_interval, workers=workers)
    try:
        check_options(opts)
    except StatusError as e:
        raise click.UsageError(e.message) from None
    path = kubeconfig_path(kubeconfig, default_data_dir())

    def ready(s) -> None:  # noqa: ANN001
        console.print(f"{s.count} simulated nodes registered ({node_prefix}-0 .. {node_prefix}-{s.count - 1}); "
                      "Ctrl-C stops their heartbeats")

    try:
        _run(run_sim(opts, path, on_ready=ready))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except StatusError as e:
        fail(e.message, e)
    except Exception as e:  # noqa: BLE001 - a connection or kubeconfig problem: say it plainly
        fail(f"{type(e).__name__}: {e}", e)


@cli.command("killall")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="State directory (default /var/lib/kubelite as root, else ~/.local/share/kubelite).")
def killall_cmd(data_dir: Path | None) -> None:
    """Stop every pod of this node's agent and remove its cgroups, mounts and namespaces."""
    from kubelite.kubelet.runtime.process import default_state_dir, killall

    state = default_state_dir((data_dir or default_data_dir()) / "agent")
    if not state.exists():
        console.print(f"nothing to do: no process runtime state in {state}")
        return
    done = killall(state)
    console.print(f"killed {done['containers']} containers, tore down {done['sandboxes']} pod sandboxes")


cli.add_command(secrets_encrypt)


def main() -> None:
    try:
        cli.main(prog_name="kubelite", standalone_mode=False)
    except click.exceptions.Exit as e:
        raise SystemExit(e.exit_code) from None
    except click.Abort:
        raise SystemExit(130) from None
    except click.ClickException as e:  # a bad flag value: one line, exit 1 like any start-up error
        fail(e.format_message())


if __name__ == "__main__":
    main()
