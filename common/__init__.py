"""What both programs need, imported as `ketch.common`: the error base, the process wrapper,
atomic file writes and the version. It imports neither ketch.guest nor ketch.host."""
