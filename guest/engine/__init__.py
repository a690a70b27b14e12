"""Engine services: the work behind each API resource, independent of HTTP."""
