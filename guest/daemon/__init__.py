"""Process-level concerns of dockerd: flags, daemon.json, logging, locks, listeners, signals."""
