"""Ketch's Docker Engine: the `dockerd` that runs inside the VM (or directly on a Linux host)."""
