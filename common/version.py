"""Versions the daemon reports. ENGINE_VERSION is the Moby release whose API we implement."""

KETCH_VERSION = "0.1.0"
ENGINE_VERSION = "28.3.0"
API_VERSION = "1.50"
MIN_API_VERSION = "1.24"
PLATFORM_NAME = "Ketch Engine"


def parse_api_version(text: str) -> tuple[int, ...]:
    """'1.50' -> (1, 50); raises ValueError on anything that is not dotted integers."""
    return tuple(int(part) for part in text.split("."))
