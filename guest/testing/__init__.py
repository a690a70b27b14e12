"""Test and benchmark utilities shipped with the daemon: start a real dockerd, drive it."""
