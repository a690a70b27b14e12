"""Body of /auth (and the decoded X-Registry-Auth): Moby's registry.AuthConfig."""

from __future__ import annotations

from ketch.guest.engine.models.base import Model, Opt


class AuthConfig(Model):
    __go_type__ = "registry.AuthConfig"
    username: Opt[str] = None
    password: Opt[str] = None
    auth: Opt[str] = None
    email: Opt[str] = None
    serveraddress: Opt[str] = None
    identitytoken: Opt[str] = None
    registrytoken: Opt[str] = None
