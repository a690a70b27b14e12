"""A Distribution API v2 client over aiohttp: endpoint fallback (https -> http for insecure
registries), basic and bearer-token auth from WWW-Authenticate challenges with token caching,
and registry errors turned into Docker's messages."""

import base64
import json
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from ketch.guest.registry.endpoints import Endpoint, via_host_loopback
from ketch.guest.registry.timeouts import HeaderTimeout, RegistryTimeouts
from ketch.guest.util.errors import EngineError, Unauthorized

USER_AGENT = "docker/28.3.0 go/go1.24 ketch"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
# The reference grammar allows hosts no URL or resolver takes: a label over 63 characters
# (UnicodeError from IDNA), a port over 65535 (InvalidURL).
TRANSPORT_ERRORS = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    TimeoutError,
    UnicodeError,
    aiohttp.InvalidURL,
)


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""

    @classmethod
    def from_auth_config(cls, auth: Mapping[str, Any] | None) -> "Credentials":
        auth = auth or {}
        username = str(auth.get("username") or auth.get("Username") or "")
        password = str(auth.get("password") or auth.get("Password") or "")
        encoded = auth.get("auth") or auth.get("Auth")
        if encoded and not username:
            with_colon = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            username, _, password = with_colon.partition(":")
        return cls(
            username,
            password,
            str(auth.get("identitytoken") or auth.get("IdentityToken") or ""),
            str(auth.get("registrytoken") or auth.get("RegistryToken") or ""),
        )

    @property
    def present(self) -> bool:
        return bool(self.username or self.identity_token or self.registry_token)


class RegistryError(EngineError):
    """An error answered by the registry; codes are the Distribution error codes."""

    def __init__(
        self, message: str, status: int = 500, codes: tuple[str, ...] = (), detail: str = ""
    ) -> None:
        super().__init__(message)
        # Not 401: the CLI answers a 401 from pull/push by prompting for a login.
        self.status = status if status in (400, 403, 404, 409) else 500
        self.codes = codes
        self.detail = detail


def error_from_body(status: int, body: bytes) -> RegistryError:
    """`errors` of a registry error response -> "code: message" as Docker prints them."""
    try:
        errors = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    if errors:
        first = errors[0]
        code = str(first.get("code", "UNKNOWN"))
        message = str(first.get("message", ""))
        text = f"{code.lower().replace('_', ' ')}: {message}"
        return RegistryError(text, status, tuple(str(e.get("code", "")) for e in errors), message)
    if status == 401:
        return RegistryError("unauthorized: authentication required", 401, ("UNAUTHORIZED",))
    if status == 404:
        return RegistryError("not found", 404, ("NOT_FOUND",))
    text = body.decode(errors="replace").strip()[:200]
    return RegistryError(
        f"received unexpected HTTP status: {status} "
        f"{_reason(status)}{(': ' + text) if text else ''}",
        status,
    )


async def read_body(response: aiohttp.ClientResponse, *ok: int) -> bytes:
    """The whole body, the response released (its headers stay readable); the registry's
    error from the body unless the status is one of ok."""
    try:
        body = await response.read()
    finally:
        response.release()
    if response.status not in ok:
        raise error_from_body(response.status, body)
    return body


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


class RegistryClient:
    """One registry host as seen by one set of credentials."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        domain: str,
        endpoint_candidates: list[Endpoint],
        credentials: Credentials,
        token_cache: dict[tuple[str, ...], tuple[str, float]],
        timeouts: RegistryTimeouts | None = None,
        host_loopback: str = "",
    ) -> None:
        self.session = session
        self.timeouts = timeouts or RegistryTimeouts()
        self.host_loopback = host_loopback  # a token realm on loopback may be on the VM's host
        self.domain = domain
        self.candidates = endpoint_candidates
        self.endpoint: Endpoint | None = None
        self.credentials = credentials
        self.tokens = token_cache
        self.challenge: tuple[str, dict[str, str]] | None = None

    async def ping(self) -> Endpoint:
        """GET /v2/ on each candidate until one answers; remembers its challenge."""
        if self.endpoint is not None:
            return self.endpoint
        last: Exception | None = None
        for endpoint in self.candidates:
            try:
                response = await self.timeouts.headers(
                    self.session.get(
                        f"{endpoint.url}/v2/",
                        ssl=None if endpoint.verify_tls else False,
                        headers={"User-Agent": USER_AGENT},
                        timeout=self.timeouts.client_timeout(),
                    )
                )
                async with response:
                    await response.read()
                    if response.status == 401:
                        header = response.headers.get("WWW-Authenticate", "")
                        self.challenge = parse_challenge(header) if header else None
                    elif response.status >= 500 or response.status == 404:
                        last = error_from_body(response.status, b"")
                        continue
                    self.endpoint = endpoint
                    return endpoint
            except TRANSPORT_ERRORS as e:
                last = e
        url = f"{self.candidates[-1].url}/v2/" if self.candidates else self.domain
        raise EngineError(f'Get "{url}": {describe(last)}') from last

    async def authorization(self, scope: str, force: bool = False) -> str | None:
        if self.challenge is None:
            return None
        scheme, params = self.challenge
        if scheme == "basic":
            if not self.credentials.username:
                return None
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if scheme == "bearer":
            if self.credentials.registry_token:
                return f"Bearer {self.credentials.registry_token}"
            return "Bearer " + await self._token(params, scope, force)
        return None

    async def _token(self, params: dict[str, str], scope: str, force: bool) -> str:
        key = (params.get("realm", ""), params.get("service", ""), scope, self.credentials.username)
        cached = self.tokens.get(key)
        if cached and cached[1] > time.monotonic() and not force:
            return cached[0]
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        if self.credentials.username:
            query["account"] = self.credentials.username
        auth = (
            aiohttp.BasicAuth(self.credentials.username, self.credentials.password)
            if self.credentials.username
            else None
        )
        realm = await via_host_loopback(params.get("realm", ""), self.host_loopback)
        try:
            if self.credentials.identity_token:
                form = {
                    "grant_type": "refresh_token",
                    "service": query["service"],
                    "client_id": "docker",
                    "refresh_token": self.credentials.identity_token,
                    "scope": scope,
                }
                request = self.session.post(
                    realm, data=form, timeout=self.timeouts.client_timeout()
                )
            else:
                request = self.session.get(
                    realm, params=query, auth=auth, timeout=self.timeouts.client_timeout()
                )
            async with await self.timeouts.headers(request) as response:
                body = await response.read()
                status = response.status
        except TRANSPORT_ERRORS as e:
            raise EngineError(f'Get "{realm}": {describe(e)}') from e
        if status != 200:
            if status == 401:
                raise EngineError(f'Get "{realm}": unauthorized: incorrect username or password')
            raise error_from_body(status, body)
        doc = json.loads(body)
        token = str(doc.get("token") or doc.get("access_token") or "")
        expires = float(doc.get("expires_in") or 60)
        self.tokens[key] = (token, time.monotonic() + max(expires - 5, 1))
        return token

    async def request(
        self,
        method: str,
        path: str,
        scope: str,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        allow_redirects: bool = True,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        """An authorized request; the caller reads and releases the response."""
        endpoint = await self.ping()
        url = path if path.startswith("http") else f"{endpoint.url}{path}"
        for attempt in range(2):
            all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
            authorization = await self.authorization(scope, force=attempt > 0)
            if authorization:
                all_headers["Authorization"] = authorization
            elif self.challenge and self.challenge[0] == "basic":
                raise EngineError(f'{method.capitalize()} "{url}": no basic auth credentials')
            sending = self.session.request(
                method,
                url,
                headers=all_headers,
                data=data,
                allow_redirects=allow_redirects,
                ssl=None if endpoint.verify_tls else False,
                timeout=timeout or self.timeouts.client_timeout(),
            )
            # An upload's time is its size's business: only the idle limit applies to it.
            response = await (sending if data is not None else self.timeouts.headers(sending))
            if response.status != 401 or attempt == 1 or data is not None:
                return response
            header = response.headers.get("WWW-Authenticate", "")
            response.release()
            if header:
                self.challenge = parse_challenge(header)
        raise AssertionError("unreachable")

    async def check_login(self) -> None:
        """What POST /auth does: the registry must accept these credentials."""
        await self.ping()
        if self.challenge is None:
            return
        response = await self.request("GET", "/v2/", "")
        body = await response.read()
        response.release()
        if response.status == 401:
            raise Unauthorized(
                f"login attempt to {self.endpoint.url if self.endpoint else ''}"
                f"/v2/ failed with status: 401 Unauthorized"
            )
        if response.status >= 400:
            raise error_from_body(response.status, body)


def describe(error: BaseException | None) -> str:
    if error is None:
        return "no endpoint answered"
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        if isinstance(cause, socket.gaierror):
            return f"dial tcp: lookup {error.host}: {cause.strerror or 'no such host'}"
        if isinstance(cause, ConnectionRefusedError):
            return f"dial tcp {error.host}:{error.port}: connect: connection refused"
        return f"dial tcp {error.host}:{error.port}: {cause.strerror or cause}"
    if isinstance(error, HeaderTimeout):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    if isinstance(error, TimeoutError):
        return "i/o timeout"
    if isinstance(error, aiohttp.InvalidURL) and error.__cause__ is not None:
        return f"invalid URL: {error.__cause__}"
    return str(error) or type(error).__name__
