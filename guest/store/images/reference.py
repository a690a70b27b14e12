"""Image references as Docker's distribution/reference parses them: normalizing `busybox`
to docker.io/library/busybox:latest and back to the familiar form users see."""

import re
from dataclasses import dataclass

from ketch.guest.util.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

# distribution/reference's grammar. re.ASCII: Go's \w is [0-9A-Za-z_], Python's is Unicode.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = (
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
    r"(?::[0-9]+)?"
)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII
)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_ANCHORED_ID = re.compile(r"[a-f0-9]{64}")
_SHORT_ID = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")
# go-digest's algorithms and their hex lengths (digest.Parse).
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
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
                return self.path[len(OFFICIAL_PREFIX) :]
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
    if not sep or (
        "." not in first and ":" not in first and first != "localhost" and first.lower() == first
    ):
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
    if not isinstance(text, str):
        raise InvalidParameter("invalid reference format")
    if _ANCHORED_ID.fullmatch(text):
        raise InvalidParameter(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidParameter(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if not match:
        raise InvalidParameter("invalid reference format")
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter(
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest:
        validate_digest(digest)
    return Reference(domain, name.partition("/")[2], tag, digest)


def validate_digest(digest: str) -> None:
    """go-digest's Parse: a known algorithm and a hex string of its length."""
    algorithm, sep, encoded = digest.partition(":")
    if not sep or not algorithm or not encoded:
        raise InvalidParameter("invalid checksum digest format")
    length = _DIGEST_HEX_LENGTH.get(algorithm)
    if length is None:
        raise InvalidParameter("unsupported digest algorithm")
    if len(encoded) != length:
        raise InvalidParameter("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidParameter("invalid checksum digest format")


def is_digest(text: str) -> bool:
    try:
        validate_digest(text)
    except InvalidParameter:
        return False
    return True


def parse_repository_tag(repo: str, tag: str) -> Reference:
    """A pull's (fromImage, tag) query pair as Moby reads it: a tag that parses as a digest
    replaces the reference's tag and digest; otherwise it must be a valid tag."""
    ref = parse(repo)
    if not tag:
        return ref
    if is_digest(tag):
        return ref.with_digest(tag)
    validate_tag(tag)
    return Reference(ref.domain, ref.path, tag, ref.digest)


def repo_tag_reference(repo: str, tag: str) -> Reference | None:
    """Moby's RepoTagReference for the repo/tag query pair of tag, import and commit: a
    name:tag (tag defaults to latest), None without a repo; a digest is refused."""
    if not repo:
        return None
    ref = parse(repo)
    if ref.digest:
        raise InvalidParameter("cannot import digest reference")
    if tag:
        validate_tag(tag)
        return ref.with_tag(tag)
    return ref.tag_or_latest()


def is_domain(text: str) -> bool:
    """A registry host[:port] as the reference grammar allows it (before the first /)."""
    return bool(_DOMAIN_RE.fullmatch(text))


def looks_like_id(text: str) -> bool:
    """A full or short image ID (with or without sha256:)."""
    return bool(_SHORT_ID.fullmatch(text))


def is_full_id(text: str) -> bool:
    return bool(_ANCHORED_ID.fullmatch(text.removeprefix("sha256:")))


def validate_tag(tag: str) -> None:
    if not _TAG_RE.fullmatch(tag):
        raise InvalidParameter("invalid tag format")
