"""Image pull benchmark: a cold `docker pull` of a ~100 MB, 4-layer gzip image from a loopback
docker-registry through Ketch's dockerd, beside two references measured in the same run and
over the same path into the daemon's network namespace:

- floor: the same blobs fetched by curl and unpacked by `tar -xz` (3 at a time, as Moby's
  max-concurrent-downloads), i.e. the bytes moved and unpacked with no bookkeeping at all;
- skopeo: `skopeo copy` of the image into a dir: (fetch + verify only, no unpacking).

Plus unpack speed alone: our layer unpacker vs `tar -xzf` on the same local blob.

Run as root: python3 bench/images/bench_pull.py [--rounds N]
"""

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time

from ketch.guest.store.images import unpack
from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import FileEntry, image_config, layer_tar
from ketch.guest.testing.registry import RegistryProcess

LAYERS = 4
FILES_PER_LAYER = 250
FILE_SIZE = 100_000  # base64 text: compresses to ~75%, like typical binaries and libraries
REPO = "bench/pull"


def make_layers() -> list[bytes]:
    layers = []
    for index in range(LAYERS):
        rng = random.Random(index)
        entries = [FileEntry(f"layer{index}", "dir", mode=0o755)]
        for number in range(FILES_PER_LAYER):
            data = base64.b64encode(rng.randbytes(FILE_SIZE * 3 // 4))
            entries.append(FileEntry(f"layer{index}/file{number}", data=data))
        layers.append(layer_tar(entries))
    return layers


def pigz(data: bytes) -> bytes:
    return subprocess.run(
        ["pigz", "-6", "-n", "-c"], input=data, capture_output=True, check=True
    ).stdout


def upload(registry: RegistryProcess, layers: list[bytes]) -> tuple[list[str], int]:
    """Push gzip layers + config + a schema2 manifest; returns (blob digests, bytes)."""
    blobs = [pigz(layer) for layer in layers]
    digests = [registry.upload_blob(REPO, blob) for blob in blobs]
    config = json.dumps(image_config(layers), separators=(",", ":")).encode()
    config_digest = registry.upload_blob(REPO, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(blob),
                    "digest": digest,
                }
                for blob, digest in zip(blobs, digests, strict=True)
            ],
        }
    ).encode()
    registry.put_manifest(
        REPO, "latest", manifest, "application/vnd.docker.distribution.manifest.v2+json"
    )
    return digests, sum(len(b) for b in blobs)


def timed(run: "object") -> float:
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start


def ours(daemon: DaemonProcess, ref: str) -> float:
    seconds = timed(lambda: daemon.docker("pull", "-q", ref))
    daemon.docker("rmi", ref)
    return seconds


def floor(daemon: DaemonProcess, registry: RegistryProcess, digests: list[str]) -> float:
    work = tempfile.mkdtemp(prefix="bench-floor-")
    script = (
        f'd={work}/$(basename "$1"); mkdir -p "$d" && '
        f'curl -sf "{registry.url}/v2/{REPO}/blobs/$1" | tar -xz -C "$d"'
    )
    try:
        return timed(
            lambda: daemon.in_netns(
                "sh",
                "-c",
                f"printf '%s\\n' {' '.join(digests)} | xargs -P3 -n1 sh -c '{script}' _",
                timeout=600,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def skopeo(daemon: DaemonProcess, registry: RegistryProcess) -> float:
    work = tempfile.mkdtemp(prefix="bench-skopeo-")
    try:
        return timed(
            lambda: daemon.in_netns(
                "skopeo",
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                f"docker://{registry.host}/{REPO}:latest",
                f"dir:{work}/img",
                timeout=600,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unpack_speed(layer: bytes) -> tuple[float, float]:
    """(ours, tar) seconds to unpack one gzip layer from a local file."""
    work = tempfile.mkdtemp(prefix="bench-unpack-")
    try:
        blob = os.path.join(work, "layer.tar.gz")
        with open(blob, "wb") as f:
            f.write(pigz(layer))

        def run_ours() -> None:
            dest = tempfile.mkdtemp(dir=work)
            with open(blob, "rb") as f:
                unpack.unpack(unpack.file_chunks(f), dest)

        def run_tar() -> None:
            dest = tempfile.mkdtemp(dir=work)
            subprocess.run(["tar", "-xzf", blob, "-C", dest], check=True)

        return min(timed(run_ours) for _ in range(3)), min(timed(run_tar) for _ in range(3))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    registry = RegistryProcess().start()
    daemon = DaemonProcess().start()
    try:
        registry.serve_to(daemon)
        layers = make_layers()
        digests, compressed = upload(registry, layers)
        ref = f"{registry.host}/{REPO}:latest"
        rows = {
            "ketch docker pull": [ours(daemon, ref) for _ in range(args.rounds)],
            "floor curl | tar -xz": [floor(daemon, registry, digests) for _ in range(args.rounds)],
            "skopeo copy (no unpack)": [skopeo(daemon, registry) for _ in range(args.rounds)],
        }
        mb = compressed / 1e6
        print(
            f"image: {LAYERS} layers, {sum(map(len, layers)) / 1e6:.0f} MB unpacked, "
            f"{mb:.0f} MB gzip; median of {args.rounds}"
        )
        medians = {name: statistics.median(times) for name, times in rows.items()}
        for name, seconds in medians.items():
            print(f"{name:26s} {seconds:6.2f} s  {mb / seconds:7.1f} MB/s")
        base = medians["ketch docker pull"]
        print(f"ratio ketch/floor:  {base / medians['floor curl | tar -xz']:.2f}x")
        print(f"ratio ketch/skopeo: {base / medians['skopeo copy (no unpack)']:.2f}x")
        ours_unpack, tar_unpack = unpack_speed(layers[0])
        size = len(layers[0]) / 1e6
        print(
            f"unpack one {size:.0f} MB layer: ketch {ours_unpack:.3f} s "
            f"({size / ours_unpack:.0f} MB/s), tar -xzf {tar_unpack:.3f} s "
            f"({size / tar_unpack:.0f} MB/s), ratio {ours_unpack / tar_unpack:.2f}x"
        )
    finally:
        daemon.cleanup()
        registry.cleanup()


if __name__ == "__main__":
    main()
