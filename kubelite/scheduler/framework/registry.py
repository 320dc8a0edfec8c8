"""The plugin registry -- one explicit map from plugin name to factory -- and the default
profile (which plugins run, with which score weights: kube-scheduler 1.32's defaults).

To add a plugin: write ``plugins/<name>.py`` with a ``new(args, handle)`` factory, add one
line to ``REGISTRY``, and list it in ``default_profile`` if it should run by default.
"""
from __future__ import annotations

from typing import Any, Callable

from kubelite.scheduler.framework.runtime import PluginConfig, Profile
from kubelite.scheduler.framework.types import DEFAULT_SCHEDULER_NAME
from kubelite.scheduler.plugins import (
    defaultbinder, defaultpreemption, interpodaffinity, nodeaffinity, nodename, nodeports, noderesources,
    nodeunschedulable, podtopologyspread, queuesort, schedulinggates, tainttoleration,
)

PluginFactoryFn = Callable[[Any, Any], Any]

REGISTRY: dict[str, PluginFactoryFn] = {
    queuesort.NAME: queuesort.new,
    schedulinggates.NAME: schedulinggates.new,
    nodename.NAME: nodename.new,
    nodeunschedulable.NAME: nodeunschedulable.new,
    noderesources.FIT: noderesources.new_fit,
    noderesources.BALANCED: noderesources.new_balanced_allocation,
    nodeaffinity.NAME: nodeaffinity.new,
    tainttoleration.NAME: tainttoleration.new,
    nodeports.NAME: nodeports.new,
    podtopologyspread.NAME: podtopologyspread.new,
    interpodaffinity.NAME: interpodaffinity.new,
    defaultpreemption.NAME: defaultpreemption.new,
    defaultbinder.NAME: defaultbinder.new,
}


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME, *,
                    percentage_of_nodes_to_score: int = 0) -> Profile:
    """kube-scheduler's default plugin set (minus volume and image-locality plugins, which
    have nothing to act on here). Filters run in this order; score weights as in kube."""
    return Profile(scheduler_name=scheduler_name, percentage_of_nodes_to_score=percentage_of_nodes_to_score, plugins=[
        PluginConfig(queuesort.NAME),
        PluginConfig(schedulinggates.NAME),
        PluginConfig(nodeunschedulable.NAME),
        PluginConfig(nodename.NAME),
        PluginConfig(tainttoleration.NAME, weight=3),
        PluginConfig(nodeaffinity.NAME, weight=2),
        PluginConfig(nodeports.NAME),
        PluginConfig(noderesources.FIT, weight=1),
        PluginConfig(podtopologyspread.NAME, weight=2),
        PluginConfig(interpodaffinity.NAME, weight=2),
        PluginConfig(noderesources.BALANCED, weight=1),
        PluginConfig(defaultpreemption.NAME),
        PluginConfig(defaultbinder.NAME),
    ])
