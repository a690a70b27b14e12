"""The desktop app: a local web UI (aiohttp + jinja2 + htmx) over the Docker API, a pywebview
window and a tray icon. It talks to the engine only through the Docker API on DOCKER_HOST or the
instance's forwarded docker.sock, and to the VM only through the `ketch` CLI."""
