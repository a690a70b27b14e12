"""Image references as Docker's distribution/reference parses them: normalizing `busybox`
to docker.io/library/busybox:latest and back to the familiar form users see."""

import re
from dataclasses import dataclass

from ketch.guest.engine.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = (rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
           r"(?::[0-9]+)?")
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_ID = re.compile(r"^[a-f0-9]{64}$")
_SHORT_ID = re.compile(r"^(?:sha256:)?[a-f0-9]{1,64}$")
NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True)
class Reference:
    """A normalized reference: domain/path plus an optional tag and/or digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Fully qualified repository name: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as users see it: busybox, user/app, 127.0.0.1:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX):]
            return self.path
        return self.name

    def __str__(self) -> str:
        return self._format(self.name)

    @property
    def familiar(self) -> str:
        return self._format(self.familiar_name)

    def _format(self, name: str) -> str:
        text = name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.domain, self.path, tag, "")

    def with_digest(self, digest: str) -> "Reference":
        return Reference(self.domain, self.path, "", digest)

    def repository(self) -> "Reference":
        return Reference(self.domain, self.path)

    def tag_or_latest(self) -> "Reference":
        """Docker's TagNameOnly: add :latest when neither tag nor digest is given."""
        if self.tag or self.digest:
            return self
        return self.with_tag(DEFAULT_TAG)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"
                   and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(text: str) -> Reference:
    """Parse and normalize like ParseNormalizedNamed; raises InvalidParameter on bad input."""
    if _ANCHORED_ID.match(text):
        raise InvalidParameter(f"invalid repository name ({text}), cannot specify 64-byte "
                               f"hexadecimal strings")
    match = _REFERENCE.match(text)
    if not match:
        remote = text.split("@")[0].rpartition(":")[0] or text
        if text and remote.lower() != remote and _REFERENCE.match(text.lower()):
            domain, path = _split_domain(remote)
            raise InvalidParameter(f"invalid reference format: repository name ({path}) "
                                   f"must be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter("invalid reference format: repository name must not be more "
                               f"than {NAME_TOTAL_LENGTH_MAX} characters")
    domain, path = _split_domain(name)
    if path.lower() != path:
        raise InvalidParameter(f"invalid reference format: repository name ({path}) must be "
                               f"lowercase")
    return Reference(domain, path, tag, digest)


def parse_repository_tag(repo: str, tag: str) -> Reference:
    """The (fromImage, tag) / (repo, tag) query pairs: tag may also be a digest."""
    if tag and (tag.startswith("sha256:") or ":" in tag):
        return parse(f"{repo}@{tag}")
    ref = parse(repo)
    if tag:
        if ref.tag or ref.digest:
            return parse(f"{repo.rpartition(':')[0] if ref.tag else repo}:{tag}")
        return ref.with_tag(tag)
    return ref


def looks_like_id(text: str) -> bool:
    """A full or short image ID (with or without sha256:)."""
    return bool(_SHORT_ID.match(text))


def is_full_id(text: str) -> bool:
    return bool(_ANCHORED_ID.match(text.removeprefix("sha256:")))


def validate_tag(tag: str) -> None:
    if not re.fullmatch(_TAG, tag):
        raise InvalidParameter("invalid tag format")
