"""The deployment controller, split by phase as Kubernetes splits it: ``sync`` (the controller,
new ReplicaSet and revisions, scaling, history cleanup, status), ``rolling`` and ``recreate``
(the two strategies), ``rollback`` (the deprecated rollback annotation), ``progress`` (the
Progressing condition and deadline) and ``util`` (pure arithmetic and bookkeeping)."""
from kubelite.controllers.deployment.sync import DeploymentController

__all__ = ["DeploymentController"]
