"""Forwarding from the host into the guest over SSH: docker.sock, published ports."""
