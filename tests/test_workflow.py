"""The GitHub workflow: a thin call of `make test` that publishes exactly what it checked."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8"))
# the oldest major version of each action that runs on Node.js 24
CURRENT = {
    "actions/checkout": 6,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/upload-artifact": 7,
    "actions/upload-pages-artifact": 5,
    "actions/deploy-pages": 5,
}


def _steps(job: str) -> list[dict[str, object]]:
    return WORKFLOW["jobs"][job]["steps"]


def test_triggers_permissions_concurrency_timeouts() -> None:
    on = WORKFLOW[True] if True in WORKFLOW else WORKFLOW["on"]  # YAML reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(on)
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert WORKFLOW["concurrency"]["cancel-in-progress"] is True
    for name, job in WORKFLOW["jobs"].items():
        assert job.get("timeout-minutes"), f"job {name} has no timeout"
    assert WORKFLOW["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "permissions" not in WORKFLOW["jobs"]["test"]


def test_it_runs_the_readme_command_and_publishes_what_it_checked() -> None:
    runs = [s["run"] for s in _steps("test") if "run" in s]
    assert runs == ["make test"]
    (pages,) = [s for s in _steps("test") if str(s.get("uses", "")).startswith("actions/upload-pages-artifact")]
    assert pages["with"]["path"] == "_build/check/_build/html"  # tools/build_check.py's output
    assert "make book" not in (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")
    failure = [s for s in _steps("test") if s.get("if") == "failure()"]
    assert failure and "_build/screenshots" in failure[0]["with"]["path"]


def test_actions_are_current() -> None:
    for job in WORKFLOW["jobs"]:
        for step in _steps(job):
            uses = str(step.get("uses", ""))
            if not uses:
                continue
            name, _, version = uses.partition("@")
            major = int(re.match(r"v(\d+)", version).group(1))  # type: ignore[union-attr]
            assert name in CURRENT and major >= CURRENT[name], f"{uses}: use {name}@v{CURRENT.get(name)} or newer"
