"""The embedded agent's configuration from ``kubelite server`` flags."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kubelite.server.components import agent_config, kubelet_settings
from kubelite.server.run import ServerConfig


@pytest.mark.parametrize("args,want", [
    ({}, {}),
    ({"port": "10260"}, {"kubelet_port": 10260}),
    ({"max-pods": "20"}, {"max_pods": 20}),
    ({"node-status-update-frequency": "500ms"}, {"status_interval": 0.5}),
    ({"node-lease-renew-interval": "1m"}, {"lease_interval": 60.0}),
    ({"node-labels": "a=b,c=d"}, {"node_labels": {"a": "b", "c": "d"}}),
])
def test_kubelet_settings(args: dict, want: dict) -> None:
    assert kubelet_settings(args) == want


@pytest.mark.parametrize("args,message", [
    ({"port": "abc"}, "invalid value 'abc' for kubelet setting 'port'"),
    ({"port": "70000"}, "invalid value '70000'"),
    ({"max-pods": "0"}, "invalid value '0'"),
    ({"node-status-update-frequency": "soon"}, "invalid value 'soon'"),
    ({"node-status-update-frequency": "0s"}, "invalid value '0s'"),
    ({"node-labels": "novalue"}, "invalid value 'novalue'"),
    ({"nope": "1"}, "unknown kubelet setting 'nope'"),
])
def test_bad_kubelet_settings(args: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kubelet_settings(args)


def test_agent_config_defaults(tmp_path: Path) -> None:
    cfg = agent_config(ServerConfig(data_dir=tmp_path, https_port=7443, kubelet_args={"port": "10300"}))
    assert cfg.node_name == socket.gethostname().lower()
    assert cfg.root_dir == tmp_path / "agent" and cfg.node_ip == "127.0.0.1" and cfg.kubelet_port == 10300
    assert cfg.api_server_url == "https://127.0.0.1:7443"
    assert cfg.serving_cert.exists() and cfg.client_ca.exists()
    named = agent_config(ServerConfig(data_dir=tmp_path, node_name="Edge-1", node_ip="10.0.0.7"))
    assert named.node_name == "edge-1" and named.node_ip == "10.0.0.7"
