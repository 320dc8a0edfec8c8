"""The batch/v1 group: Job and CronJob (plus the cron schedule parser their controllers share).

One module per kind; ``RESOURCES`` is what ``kubelite.api.kinds.BUILTIN`` collects.
"""
from __future__ import annotations

from kubelite.api.kinds.batch import cronjob, job
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [job.RESOURCE, cronjob.RESOURCE]
