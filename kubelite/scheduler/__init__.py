"""kubelite's kube-scheduler: a scheduling framework in the image of kube-scheduler's.

Layout: ``framework/`` (contracts, pod/node views, runtime, registry), ``plugins/`` (one
module per plugin), ``queue.py`` (active/backoff/unschedulable queue + nominator),
``cache.py`` (node state + assumed pods, per-cycle snapshots), ``algorithm.py`` (the pure
decision), ``binder.py`` (the only writer), ``eventhandlers.py`` (informers -> cache/queue),
``scheduler.py`` (the loop and ``run_scheduler``). See README.md for the pipeline.

The server bundler calls ``await run_scheduler(client, leader_elect=True)``.
"""
from kubelite.scheduler.binder import ApiBinder, Binder, RecordingBinder
from kubelite.scheduler.scheduler import Scheduler, SchedulerStats, run_scheduler

__all__ = ["ApiBinder", "Binder", "RecordingBinder", "Scheduler", "SchedulerStats", "run_scheduler"]
