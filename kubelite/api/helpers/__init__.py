"""Core/v1 semantics shared by every component, in one pure home (no I/O), the way Kubernetes
keeps them in ``k8s.io/component-helpers`` and on the core/v1 types: taints and tolerations
(``taints``), node selectors and required node affinity (``nodeaffinity``), name formats
(``names``), status conditions (``conditions``), pod readiness and phases (``podutil``), pod
resource requests and the kubelet's fit (``resources``) and the wire form of times (``times``).
Controllers, the scheduler, ``kubelite sim`` and the node agent import these; nothing here
imports a component. Each module states how it treats invalid input.
"""
