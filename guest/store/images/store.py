"""The image store: one folder under data-root holding blobs, layers, image configs and
references. This module is the only one that knows the layout:

    images/blobs/sha256/<hex>            layer blobs and manifests, by digest
    images/layers/sha256/<chain hex>/    diff/ (overlay lowerdir) + layer.json
    images/imagedb/sha256/<id hex>/      config.json (exact bytes) + metadata.json
    images/references.json               name:tag / name@digest -> image ID
    images/tmp/                          staging; emptied at start
"""

import os
import shutil

from ketch.guest.store.images.blobs import BlobStore
from ketch.guest.store.images.imagedb import ImageDB, ReferenceStore
from ketch.guest.store.images.layers import LayerStore, chain_ids


class ImageStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.tmp = os.path.join(root, "tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)  # leftovers of a killed pull or load
        os.makedirs(self.tmp, mode=0o700, exist_ok=True)
        self.blobs = BlobStore(os.path.join(root, "blobs"), self.tmp)
        self.layers = LayerStore(os.path.join(root, "layers"), self.tmp)
        self.images = ImageDB(os.path.join(root, "imagedb"))
        self.references = ReferenceStore(os.path.join(root, "references.json"))
        self.layers.remove_incomplete()
        self.images.remove_incomplete()

    def image_chains(self, diff_ids: list[str]) -> list[str]:
        return chain_ids(diff_ids)

    def collect_garbage(self, live_chains: set[str], live_blobs: set[str]) -> list[str]:
        """Delete layers and blobs no image refers to; returns the deleted chain IDs."""
        deleted = []
        for chain in list(self.layers.chains()):
            if chain not in live_chains:
                self.layers.delete(chain)
                deleted.append(chain)
        for layer_chain in live_chains:
            layer = self.layers.get(layer_chain)
            if layer is not None:
                live_blobs.update(layer.blobs)
                live_blobs.add(layer.diff_id)
        for digest in list(self.blobs.digests()):
            if digest not in live_blobs:
                self.blobs.delete(digest)
        return deleted
