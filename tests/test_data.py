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
    ("kwargs", "match"),
    [
        ({"n_samples": 4}, "n_samples"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_moons_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
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
