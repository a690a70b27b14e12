"""The only layer that talks to the OCI runtime (crun or runc) and to conmon."""
