"""Who may drive the UI server: it fronts a root-equivalent socket, so only the browser or window
that was given this launch's token, on this machine, may.

- The token comes once in the URL (`?token=`), is moved into an HttpOnly SameSite=Strict cookie
  and the URL is cleaned by a redirect; the tray sends it as `Authorization: Bearer`.
- Host must name the loopback address and our port (a DNS-rebinding page sends its own name).
- Origin, when sent (browsers send it on every POST and WebSocket), must be ours; a state-changing
  request without one is accepted only with the bearer token. Sec-Fetch-Site, when sent, must
  say the user opened the URL or our own page asked.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

TOKEN_PARAM = "token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    def __init__(self, token: str, port: int) -> None:
        self.token = token
        self.port = port

    @property
    def cookie_name(self) -> str:
        # Cookies ignore the port: two launches on one machine must not overwrite each other.
        return f"ketch_desktop_{self.port}"

    @property
    def hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def origins(self) -> set[str]:
        return {f"http://{host}" for host in self.hosts}

    def matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(
            (candidate or "").encode(), self.token.encode()
        )

    def refusal(self, request: web.Request) -> str | None:
        """Why request is refused, or None."""
        if request.host not in self.hosts:
            return "unexpected Host header"
        origin = request.headers.get(hdrs.ORIGIN)
        bearer = request.headers.get(hdrs.AUTHORIZATION, "").removeprefix("Bearer ").strip()
        if origin is not None and origin not in self.origins:
            return "cross-origin request"
        if request.headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
            # same-site too: a page on another loopback port (a container's app) is same-site
            return "request from another site"
        if request.method not in SAFE_METHODS and origin is None and not self.matches(bearer):
            return "state-changing request without Origin"
        if not (
            self.matches(request.cookies.get(self.cookie_name))
            or self.matches(bearer)
            or self.matches(request.query.get(TOKEN_PARAM))
        ):
            return "missing or wrong token (open the URL `ketch dashboard` prints)"
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if reason := self.refusal(request):
            return web.Response(status=403, text=f"Forbidden: {reason}.\n")
        if TOKEN_PARAM in request.query:
            query = {k: v for k, v in request.query.items() if k != TOKEN_PARAM}
            response = web.Response(
                status=303, headers={hdrs.LOCATION: str(request.rel_url.with_query(query))}
            )
            response.set_cookie(
                self.cookie_name, self.token, httponly=True, samesite="Strict", path="/"
            )
            return response
        return await handler(request)
