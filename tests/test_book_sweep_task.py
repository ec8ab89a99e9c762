"""ctdepth_lib.book.sweep_task: a run's failing claims and its kernel's environment; ctdepth_lib.book.digests:
the digests that say which runs compare."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat
import pytest

from ctdepth_lib import claims, plotting
from ctdepth_lib.book.digests import library_digest, science_digest, science_files
from ctdepth_lib.book.sweep_task import (
    CLAIM_MIME,
    CLIENT_VARS,
    CONTINUE_VAR,
    NO_FIGURES_VAR,
    THREAD_VARS,
    failed_claims,
    kernel_env,
)


def test_failed_claims_reads_the_failing_records() -> None:
    assert CONTINUE_VAR == claims.CONTINUE_VAR and CLAIM_MIME == claims.CLAIM_MIME
    assert NO_FIGURES_VAR == plotting.NO_FIGURES_VAR
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    for verdict in ("pass", "fail", "fail"):
        data = {CLAIM_MIME: {"id": "1b", "verdict": verdict}, "text/plain": f"claim 1b: {verdict.upper()}"}
        cell.outputs.append(nbformat.v4.new_output("display_data", data=data))
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    assert failed_claims(nbformat.writes(nb)) == ["claim 1b: FAIL", "claim 1b: FAIL"]


def test_kernel_env_reads_the_environment_and_never_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in THREAD_VARS:  # as Dask's nanny leaves them in a worker
        monkeypatch.setenv(key, "1")
    monkeypatch.delenv(CONTINUE_VAR, raising=False)
    before = dict(os.environ)
    env = kernel_env({"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": "2"})
    assert dict(os.environ) == before
    assert env == {k: v for k, v in before.items() if k != "MKL_NUM_THREADS"} | {
        "OMP_NUM_THREADS": "4",
        "OPENBLAS_NUM_THREADS": "2",
        CONTINUE_VAR: "1",
        NO_FIGURES_VAR: "1",
    }


def test_kernel_env_takes_the_clients_values_of_what_the_nanny_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONHASHSEED": "6640"}.items():
        monkeypatch.setenv(key, value)  # as Dask's nanny leaves them in a worker
    client = {key: None for key in CLIENT_VARS} | {"PYTHONHASHSEED": "0"}
    env = kernel_env(client)
    assert "MALLOC_TRIM_THRESHOLD_" not in env and "OMP_NUM_THREADS" not in env
    assert env["PYTHONHASHSEED"] == "0"


def test_client_vars_cover_every_variable_the_nanny_sets() -> None:
    """Contract with distributed: a variable its nanny gains must reach the kernel from the client."""
    import dask.config
    import distributed  # noqa: F401 - loads distributed's defaults into dask.config

    set_by_nanny = set(dask.config.get("distributed.nanny.pre-spawn-environ")) | {"PYTHONHASHSEED"}
    assert set_by_nanny <= set(CLIENT_VARS)


def _package(root: Path) -> Path:
    pkg = root / "ctdepth_lib"
    files = {
        "__init__.py": "",
        "solvers.py": "A = 1\n",
        "__main__.py": "cli\n",
        "plotting.py": "style\n",
        "claims.yaml": "claims: []\n",
        "bench/__init__.py": "",
        "bench/cost.py": "cost\n",
        "book/__init__.py": "",
        "book/sweep.py": "sweep\n",
        "book/sphinx/pages.py": "pages\n",
        "notes.txt": "not python\n",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text, encoding="utf-8")
    return pkg


def test_science_files_are_every_module_but_the_book_the_cli_and_plotting(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    assert science_files(pkg) == ["__init__.py", "bench/__init__.py", "bench/cost.py", "solvers.py"]


def test_science_digest_hashes_paths_and_bytes_in_sorted_order(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    h = hashlib.sha256()  # the documented formula: relative path, size and bytes of each file, sorted by path
    for rel in ("__init__.py", "bench/__init__.py", "bench/cost.py", "solvers.py"):
        data = (pkg / rel).read_bytes()
        h.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    digest = science_digest(pkg)
    assert digest == h.hexdigest()
    (pkg / "book" / "sweep.py").write_text("the machinery changed\n")
    (pkg / "plotting.py").write_text("another style\n")
    assert science_digest(pkg) == digest  # the machinery does not make a sweep stale
    (pkg / "bench" / "cost.py").write_text("cost, measured otherwise\n")
    assert science_digest(pkg) != digest  # the bench wing does (claim T-memory measures with it)


def test_library_digest_also_covers_plotting_and_the_registry(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    digest = library_digest(pkg)
    (pkg / "book" / "sweep.py").write_text("the driver changed\n")
    assert library_digest(pkg) == digest
    for rel in ("plotting.py", "claims.yaml"):
        (pkg / rel).write_text("changed\n")
        assert library_digest(pkg) != digest
        digest = library_digest(pkg)


def test_the_installed_package() -> None:
    files = science_files()
    assert "solvers.py" in files and "bench/cost.py" in files
    assert not [f for f in files if f.startswith("book/") or f in ("__main__.py", "plotting.py")]
    assert science_digest() == science_digest()
