"""Small helpers shared across the daemon's layers."""
