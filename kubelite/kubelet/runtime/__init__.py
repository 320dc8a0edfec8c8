"""Container runtimes behind one CRI-shaped interface (``interface.py``): the process runtime
(host processes in namespaces and cgroups) and, beside it, the OCI runtime (runc)."""
