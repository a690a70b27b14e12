"""Body of /auth (and the decoded X-Registry-Auth): Moby's registry.AuthConfig."""

from __future__ import annotations

from ketch.guest.engine.models.base import UNSET, Model, Opt


class AuthConfig(Model):
    __go_type__ = "registry.AuthConfig"
    username: Opt[str] = UNSET
    password: Opt[str] = UNSET
    auth: Opt[str] = UNSET
    email: Opt[str] = UNSET
    serveraddress: Opt[str] = UNSET
    identitytoken: Opt[str] = UNSET
    registrytoken: Opt[str] = UNSET
