"""Routes for /volumes (filled in by its issue)."""

from ketch.guest.api.routing import Route

ROUTES: list[Route] = []
