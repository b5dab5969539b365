"""`mer grid` end to end on `mer synth` data (SYNTHETIC: 3 subjects x 1 sample per class, 24 frames, DIS flow).

Proves: a local grid killed part-way (SIGKILL of its whole process group) reruns only the jobs that were missing
and leaves finished ones untouched; its merged predictions equal `mer train --protocol loso` with the same
settings; the merge refuses, with the list, while a job is missing or a prediction is duplicated; a failing job
comes back with its own traceback and log path; and the same grid runs on a real single-node Slurm cluster
(started by .ci/slurm-up.sh) as a job array of packed tasks, giving the same predictions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer.engine.grid import Job, _proc_stat, grid_status, merge_grid, open_grid

REPO = Path(__file__).resolve().parents[1]
MODEL = "mer_gfem"  # the smallest registered model
TRAIN = ["--epochs", "1", "--batch-size", "4"]
SEEDS = ["1", "2"]
JOBS = 2 * 3  # 2 seeds x 3 folds (one per synthetic subject)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def mer(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m mer ARGV` from the repository root (so this checkout's mer is the one imported)."""
    cmd = [sys.executable, "-m", "mer", *argv]
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)


def grid_args(cache: Path, out: Path, *extra: str) -> list[str]:
    # one torch thread per job, as in `mer train` under OMP_NUM_THREADS=1, so the two sum floats alike
    common = f"--models {MODEL} --seeds {' '.join(SEEDS)} --device cpu --threads 1".split()
    return ["grid", "--data", str(cache), "--out", str(out), *common, *TRAIN, *extra]


def read_sorted(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"subject": str, "sample": str})
    return df.sort_values(["seed", "fold", "subject", "sample"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grid_data")
    synth = mer(
        "synth", "--out", str(root / "synth"), "--subjects", "3", "--per-class", "1", "--frames", "24", "--workers", "1"
    )
    assert synth.returncode == 0, synth.stderr
    prep = mer(
        "preprocess",
        "--dataset",
        "casme2",
        "--root",
        str(root / "synth"),
        "--out",
        str(root / "cache"),
        "--flow",
        "dis",
        "--workers",
        "1",
    )
    assert prep.returncode == 0, prep.stderr
    return root / "cache"


def group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until no process of group `pgid` runs any more (zombies left by SIGKILL count as gone)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        stats = {pid.name: _proc_stat(int(pid.name)) for pid in Path("/proc").glob("[0-9]*")}
        alive = [pid for pid, fields in stats.items() if fields and int(fields[2]) == pgid and fields[0] != "Z"]
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes {alive} of the killed grid still run {timeout:.0f} s after SIGKILL")


@pytest.fixture(scope="module")
def killed_grid(cache, tmp_path_factory) -> dict:
    """A local grid SIGKILLed once 2 jobs are done, then rerun to the end. Returns what each step saw."""
    out = tmp_path_factory.mktemp("grid") / "g"
    cmd = [sys.executable, "-m", "mer", *grid_args(cache, out, "--processes", "1")]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    jobs_dir = out / MODEL / "jobs"
    deadline = time.time() + 400
    while len(list(jobs_dir.glob("*.csv"))) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, f"the grid ended before it could be killed:\n{proc.stdout.read()}"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool's workers, mid-job
    proc.wait(timeout=30)
    group_gone(proc.pid)  # (the pool's worker dies a moment after the driver on a busy machine)
    before = {p.name: p.stat().st_mtime_ns for p in jobs_dir.glob("*.csv")}
    grid = open_grid(out)
    status = {s: [j.key for j, _ in v] for s, v in grid_status(grid).items()}
    status_text = mer("grid", "--status", str(out)).stdout
    with pytest.raises(Exception, match="not done"):
        merge_grid(grid)
    rerun = mer(*grid_args(cache, out, "--processes", "1"))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    return {
        "out": out,
        "grid": grid,
        "before": before,
        "status": status,
        "status_text": status_text,
        "rerun": rerun.stdout,
        "first": proc.stdout.read(),
    }


@pytest.mark.slow
def test_a_killed_grid_reruns_only_the_missing_jobs(killed_grid):
    grid, before, status = killed_grid["grid"], killed_grid["before"], killed_grid["status"]
    assert 2 <= len(status["done"]) < JOBS and status["running"] == [] and status["failed"] == []
    assert len(status["done"]) + len(status["missing"]) == JOBS
    assert f"{len(status['missing'])} missing" in killed_grid["status_text"]
    rerun = killed_grid["rerun"]
    assert f"{len(status['done'])} done" in rerun and f"{len(status['missing'])} missing to run now" in rerun
    ran = {line.split()[1] for line in rerun.splitlines() if line.startswith("[")}
    assert ran == set(status["missing"])  # exactly the missing jobs ran again, nothing else
    jobs_dir = killed_grid["out"] / MODEL / "jobs"
    for name, mtime in before.items():  # finished jobs were not rewritten
        assert (jobs_dir / name).stat().st_mtime_ns == mtime
    assert len(grid_status(grid)["done"]) == JOBS
    history = [json.loads(line) for line in (killed_grid["out"] / "history.jsonl").read_text().splitlines()]
    assert [h["jobs"] for h in history] == [len(status["missing"])]  # the killed run never got to write its line


@pytest.mark.slow
def test_the_grid_gives_the_figures_of_mer_train(killed_grid, cache, tmp_path):
    run = tmp_path / "train"
    args = f"--model {MODEL} --protocol loso --seeds {' '.join(SEEDS)} --device cpu --no-progress".split()
    train = mer("train", "--data", str(cache), "--out", str(run), *args, *TRAIN)
    assert train.returncode == 0, train.stderr
    theirs, ours = read_sorted(run / "predictions.csv"), read_sorted(killed_grid["out"] / MODEL / "predictions.csv")
    assert len(ours) == 15 * 2 and not ours.duplicated(["seed", "sample", "subject"]).any()  # a row per sample+seed
    probs = [c for c in theirs if c.startswith("prob_")]
    pd.testing.assert_frame_equal(ours.drop(columns=probs), theirs.drop(columns=probs))
    np.testing.assert_allclose(ours[probs].to_numpy(), theirs[probs].to_numpy(), atol=1e-5)
    mine = json.loads((killed_grid["out"] / MODEL / "metrics.json").read_text())
    ref = json.loads((run / "metrics.json").read_text())
    for key in ("accuracy", "uf1", "uar"):
        assert mine["over_seeds"][key] == pytest.approx(ref["over_seeds"][key])
    assert mine["data_source"]["synthetic"] is True and mine["seeds"] == [1, 2]


@pytest.mark.slow
def test_merge_refuses_missing_and_duplicated_jobs(killed_grid):
    grid = killed_grid["grid"]
    a, b = grid.prediction_path(Job(MODEL, 1, 0)), grid.prediction_path(Job(MODEL, 1, 1))
    saved = a.read_text(), b.read_text()
    try:
        b.write_text(saved[1] + "".join(saved[0].splitlines(keepends=True)[1:]))  # fold 0's rows again
        with pytest.raises(Exception, match="more than once") as err:
            merge_grid(grid)
        assert "seed 1 sub01/" in str(err.value)
        b.write_text(saved[1])
        a.unlink()
        result = mer("grid", "--merge", str(killed_grid["out"]))
        assert result.returncode == 2 and f"{MODEL}/seed1/fold00 (missing)" in result.stderr
        assert f"missing {MODEL}/seed1/fold00" in mer("grid", "--status", str(killed_grid["out"])).stdout.replace(
            "  ", " "
        )
    finally:
        a.write_text(saved[0])
        b.write_text(saved[1])
    assert merge_grid(grid)[MODEL]["n_per_seed"] == 15


@pytest.mark.slow
def test_a_failing_job_reports_its_traceback_and_log(cache, tmp_path):
    out = tmp_path / "bad"
    result = mer(*grid_args(cache, out, "--set", 'model_kwargs={"no_such_argument": 1}'))
    assert result.returncode == 1
    assert f"FAILED {MODEL}/seed1/fold00 (log " in result.stderr
    assert "Traceback (most recent call last)" in result.stderr and "no_such_argument" in result.stderr
    state = json.loads((out / MODEL / "jobs" / "seed1_fold00.json").read_text())
    assert state["state"] == "failed" and "no_such_argument" in Path(state["log"]).read_text()
    status = mer("grid", "--status", str(out)).stdout
    assert f"0 done, 0 running, {JOBS} failed, 0 missing" in status and state["log"] in status
    assert mer("grid", "--merge", str(out)).returncode == 2


def slurm_cluster() -> None:
    """Make sure a Slurm cluster answers (starting one with .ci/slurm-up.sh when root), else skip."""
    pytest.importorskip("submitit", reason="the slurm executor needs submitit (pip install 'mer[slurm]')")
    if shutil.which("sbatch") is None:
        pytest.skip("no Slurm here: sbatch is not installed (apt-get install slurm-wlm munge)")
    probe = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if probe.returncode == 0 and {"idle", "mixed", "allocated"} & set(probe.stdout.split()):
        return
    if os.geteuid() != 0:
        pytest.skip("no Slurm cluster is up and starting one (.ci/slurm-up.sh) needs root")
    up = subprocess.run([str(REPO / ".ci" / "slurm-up.sh")], capture_output=True, text=True, timeout=300)
    if up.returncode != 0:
        pytest.skip(f"could not start a Slurm cluster with .ci/slurm-up.sh:\n{up.stdout}\n{up.stderr}")


@pytest.mark.slow
@pytest.mark.slurm
def test_the_grid_runs_on_a_real_slurm_cluster(killed_grid, cache, tmp_path):
    slurm_cluster()
    out = tmp_path / "slurm"
    extra = (
        "--executor",
        "slurm",
        "--folds-per-task",
        "4",
        "--cpus-per-task",
        "1",
        "--time",
        "10",
        "--array-parallelism",
        "2",
        "--job-name",
        "mer-grid-test",
    )
    result = mer(*grid_args(cache, out, *extra))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "submitted Slurm job array" in result.stdout and f"ran {JOBS} job(s) in 2 task(s)" in result.stdout
    states = [json.loads(p.read_text()) for p in sorted((out / MODEL / "jobs").glob("*.json"))]
    assert len(states) == JOBS and all(s["state"] == "done" and "_" in s["slurm_job"] for s in states)
    assert len({s["slurm_job"] for s in states}) == 2  # 6 jobs packed into 2 array tasks (4 + 2)
    assert all(Path(s["log"]).is_file() for s in states)
    ours, local = (
        read_sorted(out / MODEL / "predictions.csv"),
        read_sorted(killed_grid["out"] / MODEL / "predictions.csv"),
    )
    probs = [c for c in ours if c.startswith("prob_")]
    pd.testing.assert_frame_equal(ours.drop(columns=probs), local.drop(columns=probs))
    np.testing.assert_allclose(ours[probs].to_numpy(), local[probs].to_numpy(), atol=1e-5)
    again = mer(*grid_args(cache, out, *extra))  # nothing left to do: nothing is submitted
    assert again.returncode == 0 and f"{JOBS} done" in again.stdout and "submitted" not in again.stdout
