"""`docker rmi`: Moby's untag-then-delete rules and conflict messages."""

from typing import TYPE_CHECKING, Any

from ketch.guest.engine.errors import Conflict
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.images.image import Image
from ketch.guest.engine.timestamps import parse_timestamp_ns
from ketch.guest.store.images import reference
from ketch.guest.store.images.layers import chain_ids
from ketch.guest.store.images.reference import Reference

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService


def _is_id_prefix(image_id: str, text: str) -> bool:
    return reference.looks_like_id(text) and image_id.removeprefix("sha256:").startswith(
        text.removeprefix("sha256:")
    )


def _untag(
    service: "ImageService", image_id: str, ref: Reference, records: list[dict[str, str]]
) -> None:
    service.store.references.delete(ref)
    records.append({"Untagged": ref.familiar})
    service.events.publish("image", "untag", image_id, {"name": image_id})


def _container_using(service: "ImageService", image_id: str) -> str | None:
    return service.users.image_in_use(image_id) if service.users is not None else None


def _running_user(service: "ImageService", image_id: str) -> str | None:
    """A running container on image_id."""
    return service.users.running_image_user(image_id) if service.users is not None else None


def _children(service: "ImageService", image_id: str) -> list[str]:
    return [i for i in service.ids() if service.store.images.metadata(i).get("parent") == image_id]


def delete_image(
    service: "ImageService", text: str, force: bool, prune: bool
) -> list[dict[str, str]]:
    image_id = service.resolve_id(text)
    short = image_id.removeprefix("sha256:")[:12]
    refs = service.store.references.references(image_id)
    records: list[dict[str, str]] = []
    by_id = _is_id_prefix(image_id, text)
    if not by_id:
        ref = reference.parse(text).tag_or_latest()
        if len(refs) == 1 and not force:
            container = _container_using(service, image_id)
            if container:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{text}" '
                    f"(must force) - container {container[:12]} is using its "
                    f"referenced image {short}"
                )
        _untag(service, image_id, ref, records)
        refs = service.store.references.references(image_id)
        if not ref.digest and not any(r.name == ref.name and not r.digest for r in refs):
            # The last tag of a repository takes that repository's digest references along.
            for other in [r for r in refs if r.digest and r.name == ref.name]:
                _untag(service, image_id, other, records)
            refs = service.store.references.references(image_id)
        if refs:
            return records
    else:
        if len({r.name for r in refs}) > 1 and not force:
            raise Conflict(
                f"conflict: unable to delete {short} (must be forced) - image is "
                f"referenced in multiple repositories"
            )
        running = _running_user(service, image_id)
        if running:
            raise Conflict(
                f"conflict: unable to delete {short} (cannot be forced) - image is "
                f"being used by running container {running[:12]}"
            )
        container = _container_using(service, image_id)
        if container and not force:
            raise Conflict(
                f"conflict: unable to delete {short} (must be forced) - image is "
                f"being used by stopped container {container[:12]}"
            )
        if _children(service, image_id):
            raise Conflict(
                f"conflict: unable to delete {short} (cannot be forced) - image "
                f"has dependent child images"
            )
        if container:
            # Forced past a stopped container: Moby deletes the image record and the
            # container keeps its layers; here layers belong to images, so the image stays,
            # untagged, for as long as the container needs it.
            for ref in refs:
                _untag(service, image_id, ref, records)
            return records
        for ref in refs:
            _untag(service, image_id, ref, records)
    if _container_using(service, image_id) or _children(service, image_id):
        return records
    _delete_with_parents(service, image_id, prune, records)
    return records


def _delete_with_parents(
    service: "ImageService", image_id: str, prune: bool, records: list[dict[str, str]]
) -> None:
    chains: list[str] = []
    while image_id:
        parent = str(service.store.images.metadata(image_id).get("parent", ""))
        raw = service.store.images.get_config(image_id)
        if raw is not None:
            chains += reversed(chain_ids(Image.from_config(image_id, raw).diff_ids))
        service.store.images.delete(image_id)
        records.append({"Deleted": image_id})
        service.events.publish("image", "delete", image_id, {"name": image_id})
        if not prune or not parent or service.store.images.get_config(parent) is None:
            break
        if (
            service.store.references.references(parent)
            or _children(service, parent)
            or _container_using(service, parent)
        ):
            break
        image_id = parent
    # As Moby's layer store does, each layer released with the image is reported, top first.
    released = set(service.collect_garbage())
    records.extend({"Deleted": chain} for chain in dict.fromkeys(chains) if chain in released)


PRUNE_FILTERS = ("dangling", "label", "label!", "until")


def _layers_size(service: "ImageService") -> int:
    total = 0
    for chain in service.store.layers.chains():
        layer = service.store.layers.get(chain)
        total += layer.size if layer else 0
    return total


def prune_images(service: "ImageService", filters: Filters) -> dict[str, Any]:
    """POST /images/prune: dangling images (or, with dangling=false, every unused one)."""
    filters.validate(PRUNE_FILTERS)
    dangling_only = filters.bool_value("dangling") is not False
    until_ns = min((parse_timestamp_ns(v) for v in filters.get("until")), default=None)
    before = _layers_size(service)
    records: list[dict[str, str]] = []
    for image in list(service.images()):
        if dangling_only and (image.repo_tags or _children(service, image.id)):
            continue
        if until_ns is not None and image.created_ns >= until_ns:
            continue
        if not filters.match_kv_list("label", image.labels):
            continue
        negated = Filters({"label": filters.get("label!")})
        if filters.get("label!") and negated.match_kv_list("label", image.labels):
            continue
        if _container_using(service, image.id):
            continue
        if service.store.images.get_config(image.id) is None:
            continue  # removed with a child pruned before it
        for ref in service.store.references.references(image.id):
            _untag(service, image.id, ref, records)
        if _children(service, image.id):
            continue
        _delete_with_parents(service, image.id, True, records)
    reclaimed = max(before - _layers_size(service), 0)
    service.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
    return {"ImagesDeleted": records or None, "SpaceReclaimed": reclaimed}
