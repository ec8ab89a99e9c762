"""ctdepth_lib.book.sweep: chapters × seeds × parameters on Dask, resumable, one tidy table.

The cluster tests run chapter 01 (the fastest) with its quick parameters shrunk further by
``-p`` (shallower networks, two points) on a 2-worker ``LocalCluster``; one sweep serves the
table, the killed-worker and the resume tests. Another runs a sweep on a scheduler and a worker
started as separate processes; another records failing, erroring and timed-out runs of a small
stand-in notebook; another runs two stand-in runs at once on one worker of two threads, whose
``os.environ`` no task may touch. Bad input is checked through ``main([...])`` without a cluster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import pytest

from ctdepth_lib import claims, params as params_mod
from ctdepth_lib.__main__ import main
from ctdepth_lib.book import sweep as sweep_mod
from ctdepth_lib.book.sweep import code_version, load_results, sweep
from ctdepth_lib.params import ChapterSpec, Param, parameter_cell

pd = pytest.importorskip("pandas")
psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parent.parent
CH01 = ROOT / "chapters" / "01_resnet_euler.ipynb"
DOCNAME = "chapters/01_resnet_euler"
# quick parameters of chapter 01, shrunk further: the sweep machinery is under test, not the claims
SHRINK = {"N_MIN": 8, "N_MAX": 32, "RK_N_MAX": 32, "BATCH": 2}
SHRINK_ARGS = [a for k, v in SHRINK.items() for a in ("-p", k, str(v))]
SEEDS = [1, 2, 3, 4]
N_CLAIMS = sum(c.chapter == DOCNAME for c in claims.registry().values())


def _kernels_of(proc: Any) -> list[Any]:
    try:
        return [c for c in proc.children(recursive=True) if "ipykernel" in " ".join(c.cmdline())]
    except psutil.Error:
        return []


def _kill_a_busy_worker(deadline: float, killed: list[int]) -> None:
    """Wait until a worker process runs a kernel, then SIGKILL that worker and its kernel."""
    me = psutil.Process()
    while time.monotonic() < deadline and not killed:
        for child in me.children(recursive=False):
            kernels = _kernels_of(child)
            if kernels:
                time.sleep(1.0)  # mid-run: the kernel has started executing the chapter
                for proc in [child, *kernels]:
                    try:
                        os.kill(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                killed.append(child.pid)
                return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One 2-worker sweep of chapter 01 (quick parameters, shrunk) × 4 seeds."""
    out = tmp_path_factory.mktemp("sweep")
    t0 = time.perf_counter()
    df = sweep(["01_resnet_euler"], SEEDS, quick=True, parameters=SHRINK, out=out, workers=2, root=ROOT, progress=False)
    seconds = time.perf_counter() - t0
    print(f"tiny sweep: {len(SEEDS)} runs in {seconds:.1f} s = {60 * len(SEEDS) / seconds:.1f} runs/min (2 workers)")
    return {"out": out, "df": df, "seconds": seconds}


def test_table_complete(swept: dict[str, Any]) -> None:
    df = swept["df"]
    assert N_CLAIMS > 0
    assert len(df) == len(SEEDS) * N_CLAIMS
    assert sorted(df["seed"].unique()) == SEEDS
    assert set(df["chapter"]) == {DOCNAME}
    assert set(df["claim"]) == {c.id for c in claims.registry().values() if c.chapter == DOCNAME}
    assert df["quick"].all() and df["current"].all() and not df["lost"].any()
    assert set(df["version"]) == {code_version(CH01)}
    params = json.loads(df["parameters"].iloc[0])
    assert params == chapter01_effective() and "SEED" not in params
    assert set(df["run_status"]) <= {"pass", "fail"}, df[["run_id", "run_status", "error"]].drop_duplicates()
    assert set(df["verdict"]) <= {"pass", "fail", "not run"}
    passed = df[df["verdict"] == "pass"]
    assert passed["measured"].notna().all()
    # the table on disk is the one returned, and pandas reads it back
    again = load_results(swept["out"] / "results.parquet")
    pd.testing.assert_frame_equal(again, df)
    for rel in df["notebook"].unique():
        assert (swept["out"] / rel).is_file()


def chapter01_effective() -> dict[str, Any]:
    from ctdepth_lib.book.notebooks import chapter_parameters, quick_parameters

    base = {p.name: p.default for p in chapter_parameters(CH01)} | quick_parameters(CH01) | SHRINK
    base.pop("SEED")
    return base


def test_resume_is_a_no_op(swept: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    out = swept["out"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("seed*")}

    def no_cluster(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a resumed sweep with nothing to do started a cluster")

    monkeypatch.setattr(sweep_mod, "_connect", no_cluster)
    t0 = time.perf_counter()
    df = sweep(["chapters/01_resnet_euler.ipynb"], "1-4", quick=True, parameters=SHRINK, out=out, workers=2, root=ROOT)
    assert time.perf_counter() - t0 < 10
    assert {p: p.stat().st_mtime_ns for p in out.rglob("seed*")} == before  # no papermill execution
    pd.testing.assert_frame_equal(df, swept["df"])


# --- outcomes of failing runs, on a stand-in for chapter 01 that needs no torch -------------------

STANDIN = ChapterSpec(
    DOCNAME,
    {
        "SEED": Param(int, 0, 2**31 - 1, help="seed", default=0),
        "MODE": Param(str, choices=("pass", "fail", "error", "timeout"), help="what the run does", default="pass"),
        "NAP": Param(float, 0.0, 60.0, help="seconds it sleeps first", default=0.0),
    },
)
# the stand-in imports nothing heavy (no torch): its cells stay fast
STANDIN_VALIDATE = 'PARAMS = {"SEED": SEED, "MODE": MODE, "NAP": NAP}'


@pytest.fixture
def standin_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in chapter registered in place of chapter 01 (the client checks runs against it)."""
    shipped = params_mod.load_specs()
    monkeypatch.setattr(params_mod, "_shipped", lambda: shipped | {DOCNAME: STANDIN})


STANDIN_RUN = """import os
import time

from IPython.display import display

time.sleep(NAP)


class ClaimFailed(AssertionError):
    pass


CLAIM_MIME = "application/vnd.ctdepth.claim+json"
rec = {"id": FIRST, "chapter": "chapters/01_resnet_euler", "measured": 0.5, "threshold": "x", "seed": SEED,
       "parameters": PARAMS, "verdict": "fail" if MODE == "fail" else "pass"}
display({CLAIM_MIME: rec, "text/plain": "claim"}, raw=True)
if MODE == "fail" and os.environ.get("CTDEPTH_CLAIMS_CONTINUE") != "1":  # as claims.check does
    raise ClaimFailed("claim missed")
if MODE == "error":
    raise RuntimeError("a cell broke")
if MODE == "timeout":
    time.sleep(60)
"""
# before and after the run: what the kernel's environment holds, and when it ran (a run that stops is silent)
STANDIN_START = """import json
import os
import time

STARTED = time.time()
KERNEL_ENV = {k: os.environ.get(k) for k in ENV_KEYS}
"""
STANDIN_END = 'print(json.dumps({"env": KERNEL_ENV, "cwd": os.getcwd(), "started": STARTED, "ended": time.time()}))'
ENV_KEYS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", claims.CONTINUE_VAR)


def _standin(root: Path, first: str) -> Path:
    (root / "chapters").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameter_cell(STANDIN))
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(STANDIN_VALIDATE),
        nbformat.v4.new_code_cell(f"FIRST = {first!r}\nENV_KEYS = {ENV_KEYS!r}"),
        nbformat.v4.new_code_cell(STANDIN_START),
        nbformat.v4.new_code_cell(STANDIN_RUN),
        nbformat.v4.new_code_cell(STANDIN_END),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = root / "chapters" / "01_resnet_euler.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.usefixtures("standin_registry")
def test_killed_worker_still_records_every_run_once(tmp_path: Path) -> None:
    ids = [c.id for c in claims.registry().values() if c.chapter == DOCNAME]
    _standin(tmp_path / "book", ids[0])
    out = tmp_path / "out"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_busy_worker, args=(time.monotonic() + 60, killed), daemon=True)
    killer.start()
    df = sweep(
        ["01_resnet_euler"], [1, 2, 3, 4], quick=False, parameters={"NAP": 2.0},
        out=out, workers=2, root=tmp_path / "book", progress=False,
    )  # fmt: skip
    killer.join(timeout=1)
    assert killed, "no worker was running a chapter to be killed"
    records = sorted(out.glob("runs/*/*/seed*.run.json"))
    assert sorted(json.loads(p.read_text())["seed"] for p in records) == [1, 2, 3, 4]
    assert {json.loads(p.read_text())["status"] for p in records} == {"pass"}  # the killed run was retried
    assert len(df) == 4 * len(ids) and not df.duplicated(["run_id", "claim"]).any()
    assert df.groupby("run_id").size().tolist() == [len(ids)] * 4
    for p in records:  # each run wrote its notebook and claim records; no temporary file is left
        assert p.with_name(p.name.replace(".run.json", ".ipynb")).is_file()
        assert p.with_name(p.name.replace(".run.json", ".claims.json")).is_file()
    assert not list(out.rglob("*.tmp"))


# --- a scheduler and a worker as separate processes ---------------------------------------------


@pytest.mark.usefixtures("standin_registry")
def test_sweep_on_an_existing_scheduler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scheduler and two workers as separate processes; failing runs are recorded outcomes."""
    ids = [c.id for c in claims.registry().values() if c.chapter == DOCNAME]
    book = tmp_path / "book"
    _standin(book, ids[0])
    sched_file = tmp_path / "scheduler.json"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    common: dict[str, Any] = {"cwd": tmp_path, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(sched_file)], **common,
    )  # fmt: skip
    worker = None
    try:
        for _ in range(300):
            if sched_file.is_file() and sched_file.read_text().strip():
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "2",
             "--no-dashboard", "--memory-limit", "0"], **common,
        )  # fmt: skip
        out = tmp_path / "out"
        modes = [a for m in ("pass", "fail", "error", "timeout") for a in ("-p", "MODE", m)]
        argv = ["sweep", "01_resnet_euler", "--seeds", "5", *modes, "--scheduler", address, "--timeout", "3"]
        code = main([*argv, "--out", str(out), "--root", str(book), "--no-progress"])
        printed = capsys.readouterr()
        assert code == 1, printed.err  # some runs failed: exit 1, after recording them all
        assert "4 runs recorded" in printed.out and "1 pass, 1 fail, 1 error, 1 timeout" in printed.out
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
        for proc in (worker, scheduler):
            if proc is not None:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    df = load_results(out)
    assert len(df) == 4 * len(ids) and set(df["seed"]) == {5}
    df["mode"] = [json.loads(p)["MODE"] for p in df["parameters"]]
    status = df.drop_duplicates("run_id").set_index("mode")
    assert (status["run_status"] == status.index).all(), status[["run_status", "error"]]
    assert "ClaimFailed" in status.loc["fail", "error"] and "RuntimeError" in status.loc["error", "error"]
    for mode, later in (("pass", "not run"), ("fail", "not run"), ("error", "error"), ("timeout", "timeout")):
        mine = df[df["mode"] == mode].set_index("claim")
        # the partial record made before the stop is kept; the claims after it are marked
        assert mine.loc[ids[0], "measured"] == 0.5
        assert mine.loc[ids[0], "verdict"] == ("fail" if mode == "fail" else "pass")
        assert set(mine.drop(index=ids[0])["verdict"]) == {later}
    assert len(list(out.glob("runs/*/*/seed5.run.json"))) == 4  # four parameter sets, four folders


# --- one worker, two threads: two runs at once, and the worker's environment untouched -----------


def _kernel_report(out: Path, rel: str) -> dict[str, Any]:
    """What the stand-in's last cell printed in the executed notebook ``out/rel``."""
    cells = [c for c in nbformat.read(out / rel, as_version=4).cells if c.cell_type == "code"]
    (stream,) = [o for o in cells[-1].outputs if o.output_type == "stream"]
    return dict(json.loads(stream.text))


@pytest.mark.usefixtures("standin_registry")
def test_a_worker_of_two_threads_runs_two_runs_without_touching_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs at once on one worker process: each kernel gets CTDEPTH_CLAIMS_CONTINUE=1 and the
    client's thread variables, and no task writes the worker's own os.environ (one run's restore
    would strip another's variables)."""
    from distributed import Client, LocalCluster

    ids = [c.id for c in claims.registry().values() if c.chapter == DOCNAME]
    book = tmp_path / "book"
    _standin(book, ids[0])

    def record_environ_writes() -> None:  # on the worker: every write to os.environ is logged
        class Recording(type(os.environ)):  # type: ignore[misc]
            writes: ClassVar[list[tuple[str, str]]] = []

            def __setitem__(self, key: str, value: str) -> None:
                self.writes.append(("set", key))
                super().__setitem__(key, value)

            def __delitem__(self, key: str) -> None:
                self.writes.append(("del", key))
                super().__delitem__(key)

        os.environ.__class__ = Recording

    def environ_state() -> dict[str, Any]:
        return {
            "writes": list(getattr(type(os.environ), "writes", ["no recorder"])),
            "env": {k: os.environ.get(k) for k in ENV_KEYS},
            "cwd": os.getcwd(),
            "ctdepth_lib imported": any(m.split(".")[0] == "ctdepth_lib" for m in sys.modules),
        }

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None, memory_limit=0, silence_logs=40
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        client.run(record_environ_writes)
        (before,) = client.run(environ_state).values()
        assert before["writes"] == [] and before["env"][claims.CONTINUE_VAR] is None
        # the client's thread settings, which the kernels get in place of the nanny's 1s
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        out = tmp_path / "out"
        df = sweep(
            ["01_resnet_euler"], [7], quick=False, parameters={"MODE": ["pass", "fail"], "NAP": 2.0},
            out=out, scheduler=cluster.scheduler_address, root=book, progress=False,
        )  # fmt: skip
        (after,) = client.run(environ_state).values()
    runs = df.drop_duplicates("run_id")
    runs = runs.set_index(pd.Index([json.loads(p)["MODE"] for p in runs["parameters"]]))
    assert runs.loc["pass", "run_status"] == "pass" and runs.loc["fail", "run_status"] == "fail"
    reports = {mode: _kernel_report(out, runs.loc[mode, "notebook"]) for mode in ("pass", "fail")}
    client_env = {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": "2"}
    for mode, report in reports.items():  # the failing run went on to its last cell
        assert report["env"] == client_env | {claims.CONTINUE_VAR: "1"}, (mode, report)
        assert Path(report["cwd"]).name.startswith("ctdepth-sweep-"), report  # each kernel in its own folder
    assert reports["pass"]["cwd"] != reports["fail"]["cwd"]
    # the two kernels ran at the same time, on the one worker
    assert max(r["started"] for r in reports.values()) < min(r["ended"] for r in reports.values()), reports
    assert len(set(runs["worker"])) == 1
    assert after["writes"] == [], after["writes"]
    assert after["env"] == before["env"] and after["cwd"] == before["cwd"]
    assert not after["ctdepth_lib imported"]  # the task and its digests travelled by value


# --- bad input: one line on stderr, exit 2, nothing run ------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_chapter", "--seeds", "1-2"], "unknown chapter 'no_such_chapter'"),
        (["01_resnet_euler", "--seeds", "5-3"], "is empty"),
        (["01_resnet_euler", "--seeds", "x"], "--seeds must be A-B"),
        (["01_resnet_euler", "--seeds", "1-"], "--seeds must be A-B"),
        (["01_resnet_euler", "--seeds", ""], "--seeds must be A-B"),
        (["01_resnet_euler", "--seeds", "1-2", "-p", "NO_SUCH", "3"], "has no parameter NO_SUCH"),
        (["01_resnet_euler", "--seeds", "1-2", "-p", "N_MAX", "0"], "N_MAX must be int in [16, 65536]"),
        (["01_resnet_euler", "--seeds", "1-2", "-p", "N_MAX", "abc"], "N_MAX must be an integer"),
        (["01_resnet_euler", "--seeds", "1-2", "-p", "T", "True"], "T must be a number"),
        (["01_resnet_euler", "--seeds", "1-2", "-p", "SEED", "3"], "SEED is set by seeds"),
        (["01_resnet_euler", "--seeds", "1-2", "--workers", "0"], "workers must be an integer >= 1"),
        (["01_resnet_euler", "--seeds", "2147483648"], "SEED must be int in [0, 2147483647]"),
    ],
)
def test_bad_input_is_one_clear_error(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["sweep", *args, "--out", str(out), "--root", str(ROOT), "--no-progress"])
    printed = capsys.readouterr()
    assert code == 2
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], printed.err
    assert "Traceback" not in printed.err
    assert not (out / "runs").exists()


def test_the_chapters_relations_are_checked_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # chapter 01 requires N_MAX >= 4 * N_MIN (parameters.yaml): that check runs before any run too
    args = ["-p", "N_MIN", "64", "-p", "N_MAX", "128", "--out", str(tmp_path), "--root", str(ROOT)]
    code = main(["sweep", "01_resnet_euler", "--seeds", "1", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "N_MAX must be >= 4 * N_MIN = 256; got 128" in err[0], err


def test_unreachable_scheduler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.perf_counter()
    code = main(
        ["sweep", "01_resnet_euler", "--seeds", "1", "--scheduler", address, "--connect-timeout", "1",
         "--out", str(tmp_path / "out"), "--root", str(ROOT)]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not reachable" in err[0] and address in err[0]
    assert "Traceback" not in "\n".join(err)
    assert time.perf_counter() - t0 < 15
    assert not (tmp_path / "out" / "runs").exists()


def test_workers_and_scheduler_are_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "sweep",
                "01_resnet_euler",
                "--seeds",
                "1",
                "--workers",
                "2",
                "--scheduler",
                "tcp://x:1",
                "--out",
                str(tmp_path),
            ]
        )
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


# --- the API's own checks (the pieces are tested in test_book_sweep_plan/_records/_task) ---------


def test_api_argument_validation(tmp_path: Path) -> None:
    ok = {"quick": True, "parameters": {}, "out": tmp_path / "o", "root": ROOT}
    with pytest.raises(TypeError, match="chapters"):
        sweep([3], [1], **ok)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="seeds"):
        sweep(["01_resnet_euler"], [1.5], **ok)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="seeds"):
        sweep(["01_resnet_euler"], [], **ok)
    with pytest.raises(TypeError, match="quick"):
        sweep(["01_resnet_euler"], [1], **(ok | {"quick": "yes"}))
    with pytest.raises(TypeError, match="parameters"):
        sweep(["01_resnet_euler"], [1], **(ok | {"parameters": [("N_MAX", 16)]}))
    with pytest.raises(ValueError, match="workers or scheduler"):
        sweep(["01_resnet_euler"], [1], **ok, workers=1, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="timeout"):
        sweep(["01_resnet_euler"], [1], **ok, timeout=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="out must be a folder"):
        sweep(["01_resnet_euler"], [1], **(ok | {"out": tmp_path / "file"}))
    with pytest.raises(TypeError, match="out"):
        sweep(["01_resnet_euler"], [1], **(ok | {"out": 3}))
