"""The leave-one-subject-out grid: one idempotent job per (model, seed, fold), run here or on a Slurm cluster.

Each job calls :func:`mer.engine.train.train_run` for one fold of a one-seed run, so a job computes exactly
what ``mer train --model MODEL --seeds SEED --fold K`` computes with the same settings. Grid folder::

    GRID/grid.json                     cache, models, seeds and the training settings (all but model, seeds)
    GRID/MODEL/seedS/                  a ``mer train`` run folder (model MODEL, seeds [S]) the jobs train in
    GRID/MODEL/jobs/seedS_foldKK.csv   the job's test predictions, written atomically: there = done
    GRID/MODEL/jobs/seedS_foldKK.json  the job's last state: submitted | running | failed | done, with host,
                                       pid or Slurm job id, log path, traceback, seconds
    GRID/MODEL/predictions.csv         merged: one row per test sample and seed (+ run.json, metrics.json,
                                       audit.csv, as ``mer train`` writes them)
    GRID/logs/local/, GRID/logs/slurm/ each task's log (the local pool's, or submitit's)
    GRID/history.jsonl                 one line per ``mer grid`` invocation: executor, jobs run, wall seconds

A rerun skips done jobs and jobs still running (a live local process, a Slurm job squeue still lists) and
redoes missing and failed ones; an interrupted job resumes from its last saved epoch (train_run's resume).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mer.errors import InputError
from mer.io import write_text

GRID_FILE = "grid.json"
STATES = ("done", "running", "failed", "missing")


# ------------------------------------------------------------------------------------------------ the grid
@dataclass(frozen=True)
class Job:
    """One training job: fold ``fold`` of model ``model`` trained with seed ``seed``."""

    model: str
    seed: int
    fold: int

    @property
    def key(self) -> str:
        return f"{self.model}/seed{self.seed}/fold{self.fold:02d}"


@dataclass
class Grid:
    """An opened grid folder. ``train``: TrainConfig fields except model and seeds; ``folds``: fold count."""

    root: Path
    data: str
    models: list[str]
    seeds: list[int]
    train: dict[str, Any]
    folds: int

    def run_dir(self, model: str, seed: int) -> Path:
        return self.root / model / f"seed{seed}"

    def prediction_path(self, job: Job) -> Path:
        return self.root / job.model / "jobs" / f"seed{job.seed}_fold{job.fold:02d}.csv"

    def state_path(self, job: Job) -> Path:
        return self.prediction_path(job).with_suffix(".json")

    def jobs(self, models: Iterable[str] | None = None) -> list[Job]:
        return [Job(m, s, k) for m in (models or self.models) for s in self.seeds for k in range(self.folds)]

    def job_config(self, model: str, seed: int):
        """The TrainConfig of (model, seed): the grid's settings, that model, that one seed."""
        return job_config(self.train, model, seed)


def job_config(train: dict[str, Any], model: str, seed: int):
    """A TrainConfig from the grid's settings ``train`` (all fields but model and seeds), ``model``, ``[seed]``."""
    from mer.engine.config import config_from_dict

    return config_from_dict({**train, "model": model, "seeds": [seed]})


def _write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=1) + "\n")


def create_grid(out: str | Path, data: str | Path, models: list[str], seeds: list[int], cfg) -> Grid:
    """Make (or reopen and extend) the grid folder ``out`` for ``models`` x ``seeds`` with the settings of
    ``cfg`` (a TrainConfig; its model and seeds are ignored) on the cache ``data``.

    Every (model, seed) run folder is prepared here, once, by ``train_run(..., folds=[])``, so parallel jobs
    only read its config.json and run.json. A grid made with other settings or another cache is refused;
    new models or seeds are added to it.
    """
    from mer.engine.train import train_run

    if not models or not seeds:
        raise InputError("a grid needs at least one model (--models) and one seed (--seeds)")
    if len(set(seeds)) != len(seeds) or len(set(models)) != len(models):
        raise InputError(f"models and seeds must be distinct, got models {models}, seeds {seeds}")
    _check_models(models)
    root = Path(out)
    train = {k: v for k, v in cfg.to_dict().items() if k not in ("model", "seeds")}
    spec = {"data": str(Path(data).resolve()), "models": list(models), "seeds": list(seeds), "train": train}
    if (root / GRID_FILE).is_file():
        old = json.loads((root / GRID_FILE).read_text())
        diff = sorted(k for k in set(old["train"]) | set(train) if old["train"].get(k) != train.get(k))
        if old["data"] != spec["data"]:
            diff.append(f"data (was {old['data']})")
        if diff:
            raise InputError(
                f"{root} holds a grid with other settings ({', '.join(diff)}); use the same settings to "
                "resume or extend it, or choose a new --out"
            )
        spec["models"] = old["models"] + [m for m in models if m not in old["models"]]
        spec["seeds"] = old["seeds"] + [s for s in seeds if s not in old["seeds"]]
    folds = None
    for model in spec["models"]:
        for seed in spec["seeds"]:
            run = root / model / f"seed{seed}"
            train_run(job_config(train, model, seed), spec["data"], run, folds=[], device="cpu", progress=False)
            folds = len(json.loads((run / "run.json").read_text())["folds"])
    _write_json(root / GRID_FILE, {**spec, "folds": folds})
    return open_grid(root)


def _check_models(models: list[str]) -> None:
    """InputError for a name no job could train (before a thousand jobs fail with it)."""
    import timm

    import mer  # noqa: F401  (registers the mer_* models in timm)
    from mer.engine import train

    if hasattr(train, "model_modality"):  # the engine's own check, which knows its non-timm (classical) models
        for m in models:
            train.model_modality(m)
        return
    unknown = [m for m in models if not timm.is_model(m)]
    if unknown:
        raise InputError(f"unknown model(s) {unknown}; mer models: {', '.join(timm.list_models('mer_*'))}")


def open_grid(root: str | Path) -> Grid:
    """Open a grid folder written by :func:`create_grid`; InputError if ``root`` is not one."""
    root = Path(root)
    if not (root / GRID_FILE).is_file():
        raise InputError(f"{root} is not a grid folder (no {GRID_FILE}); start one with mer grid --data ... --out")
    spec = json.loads((root / GRID_FILE).read_text())
    return Grid(root, spec["data"], spec["models"], [int(s) for s in spec["seeds"]], spec["train"], spec["folds"])


# ------------------------------------------------------------------------------------------------ one job
def _job_env() -> dict[str, Any]:
    """Where this process runs: host, pid and, inside Slurm, the job id (array id_task id when an array)."""
    env: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": _proc_start(os.getpid())}
    if os.environ.get("SLURM_ARRAY_JOB_ID"):
        env["slurm_job"] = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    elif os.environ.get("SLURM_JOB_ID"):
        env["slurm_job"] = os.environ["SLURM_JOB_ID"]
    return env


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None (no such process, no /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _proc_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process (pids recycle)."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None


def _pid_alive(pid: int, start: int | None) -> bool:
    """Whether process ``pid`` (started at ``start``, when known) still runs; a zombie does not (a killed
    worker whose parent died too stays a zombie where nothing reaps orphans, as in containers)."""
    if Path("/proc/self/stat").is_file():
        fields = _proc_stat(pid)
        return bool(fields) and fields[0] != "Z" and (start is None or int(fields[19]) == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def run_job(grid: Grid, job: Job, device: str = "auto", log: str | None = None) -> dict[str, Any]:
    """Train one job (resuming or skipping what train_run finds done) and write its predictions atomically.

    Never raises for a failing job: the failure, with its traceback and ``log`` (the task's log file), goes
    to the job's state file and to the returned dict ``{"job", "state", "seconds", "traceback", "log"}``.
    """
    from mer.engine.train import fold_dir, train_run

    t0 = time.time()
    state = {"job": job.key, "state": "running", "started": t0, "log": log, **_job_env()}
    _write_json(grid.state_path(job), state)
    try:
        run = grid.run_dir(job.model, job.seed)
        train_run(grid.job_config(job.model, job.seed), grid.data, run, folds=[job.fold], device=device, progress=False)
        text = (fold_dir(run, job.seed, job.fold) / "predictions.csv").read_text()
        write_text(grid.prediction_path(job), text)
        state.update(state="done", seconds=time.time() - t0)
    except Exception:  # noqa: BLE001  (any failure is the job's, reported with its traceback)
        state.update(state="failed", seconds=time.time() - t0, traceback=traceback.format_exc())
        print(state["traceback"], file=sys.stderr, flush=True)
    _write_json(grid.state_path(job), state)
    return state


def run_task(
    root: str, jobs: list[Job], device: str = "auto", log: str | None = None, threads: int | None = None
) -> list[dict[str, Any]]:
    """Run several jobs one after the other in this process (one cluster task); return their states.

    ``log``: a file to send this task's output to (local pool; on Slurm submitit captures it already);
    ``threads``: torch intra-op threads (default: torch's own choice).
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    grid = open_grid(root)
    if log is None:
        log = _slurm_log_path()
        return [run_job(grid, job, device, log) for job in jobs]
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        return [run_job(grid, job, device, log) for job in jobs]


def _slurm_log_path() -> str | None:
    with contextlib.suppress(Exception):
        import submitit

        return str(submitit.JobEnvironment().paths.stderr)
    return None


# ------------------------------------------------------------------------------------------------ status
def squeue_states() -> dict[str, str] | None:
    """Slurm job id (``123`` or ``123_4``) -> state for jobs squeue still lists; None without squeue."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return dict(line.split("|", 1) for line in out.stdout.split() if "|" in line)


def _alive(state: dict[str, Any], queue: dict[str, str] | None) -> str | None:
    """How a submitted or running job is still alive ("running on HOST", "PENDING in Slurm"), else None."""
    if state.get("slurm_job"):
        if queue is None:
            return f"Slurm job {state['slurm_job']} (squeue unavailable here: assumed alive)"
        s = queue.get(state["slurm_job"])
        return f"Slurm job {state['slurm_job']} {s}" if s else None
    if state.get("host") == socket.gethostname() and state.get("pid"):
        if not _pid_alive(int(state["pid"]), state.get("pid_start")):
            return None
        return f"pid {state['pid']} on {state['host']}"
    return f"on {state.get('host')} (cannot check from here: assumed alive)"


def job_status(grid: Grid, job: Job, queue: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """(done | running | failed | missing, the job's state file or {}). A dead running job is missing."""
    state: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        state = json.loads(grid.state_path(job).read_text())
    if grid.prediction_path(job).is_file():
        return "done", state
    if state.get("state") == "failed":
        return "failed", state
    if state.get("state") in ("submitted", "running"):
        alive = _alive(state, queue)
        if alive:
            return "running", {**state, "detail": alive}
        return "missing", {**state, "detail": f"interrupted ({state['state']}, no longer alive)"}
    return "missing", state


def grid_status(grid: Grid) -> dict[str, list[tuple[Job, dict[str, Any]]]]:
    """Every job of the grid by state: ``{"done": [(job, state), ...], "running": ..., ...}``."""
    jobs = grid.jobs()
    states = {}
    for job in jobs:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            states[job] = json.loads(grid.state_path(job).read_text())
    queue = squeue_states() if any(s.get("slurm_job") for s in states.values()) else None
    out: dict[str, list] = {s: [] for s in STATES}
    for job in jobs:
        status, state = job_status(grid, job, queue)
        out[status].append((job, state))
    return out


def format_status(grid: Grid, status: dict[str, list], detail: int = 20) -> str:
    """A table of counts per model, then up to ``detail`` lines on running, failed and missing jobs."""
    lines = [
        f"grid {grid.root}: {len(grid.models)} model(s) x {len(grid.seeds)} seed(s) x {grid.folds} fold(s)"
        f" = {sum(len(v) for v in status.values())} jobs"
    ]
    width = max(len(m) for m in grid.models)
    lines.append(f"  {'model':<{width}}  " + "  ".join(f"{s:>7}" for s in STATES))
    for m in grid.models:
        counts = [sum(1 for j, _ in status[s] if j.model == m) for s in STATES]
        lines.append(f"  {m:<{width}}  " + "  ".join(f"{c:>7}" for c in counts))
    lines.append("  " + ", ".join(f"{len(status[s])} {s}" for s in STATES))
    for s in ("running", "failed", "missing"):
        for job, state in status[s][:detail]:
            extra = state.get("detail") or ""
            if s == "failed":
                tb = (state.get("traceback") or "").strip().splitlines()
                extra = f"{tb[-1] if tb else 'failed'}; log {state.get('log')}"
            lines.append(f"  {s:>7} {job.key}" + (f": {extra}" if extra else ""))
        if len(status[s]) > detail:
            lines.append(f"  {s:>7} ... and {len(status[s]) - detail} more")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ merge
def merge_model(grid: Grid, model: str) -> dict[str, Any]:
    """Join a model's job predictions into ``GRID/MODEL/predictions.csv`` (one row per sample and seed) and
    compute its metrics.json as ``mer train`` does. InputError, with the list, while any job is missing or
    any (seed, sample) is predicted more than once."""
    import pandas as pd

    from mer.engine.metrics import PREDICTION_DTYPES
    from mer.engine.train import evaluate_run, fold_dir

    jobs = grid.jobs([model])
    missing = [j.key for j in jobs if not grid.prediction_path(j).is_file()]
    if missing:
        raise InputError(f"{model}: {len(missing)} job(s) not done: {', '.join(missing)}; run the grid again")
    dtypes = PREDICTION_DTYPES
    preds = pd.concat([pd.read_csv(grid.prediction_path(j), dtype=dtypes) for j in jobs], ignore_index=True)
    dup = preds[preds.duplicated(["seed", "subject", "sample"], keep=False)]
    if len(dup):
        where = sorted({f"seed {r.seed} {r.subject}/{r.sample} (fold {r.fold})" for r in dup.itertuples()})
        raise InputError(f"{model}: {len(where)} prediction(s) appear more than once: {', '.join(where)}")
    plan = json.loads((grid.run_dir(model, grid.seeds[0]) / "run.json").read_text())
    tested = {s for f in plan["folds"] for s in f["test_subjects"]}
    per_seed = preds.groupby("seed").size()
    if per_seed.nunique() != 1:
        raise InputError(f"{model}: seeds predict different numbers of samples: {per_seed.to_dict()}")
    if set(preds["subject"]) != tested:
        raise InputError(f"{model}: predictions cover subjects {sorted(set(preds['subject']))}, not {sorted(tested)}")
    root = grid.root / model
    write_text(root / "predictions.csv", preds.to_csv(index=False))
    audits = [fold_dir(grid.run_dir(j.model, j.seed), j.seed, j.fold) / "audit.csv" for j in jobs]
    audits = [pd.read_csv(p, dtype=dtypes) for p in audits if p.is_file()]
    if audits:
        write_text(root / "audit.csv", pd.concat(audits, ignore_index=True).to_csv(index=False))
    _write_json(root / "run.json", {**plan, "seeds": list(grid.seeds)})
    return evaluate_run(root)


def merge_grid(grid: Grid) -> dict[str, dict[str, Any]]:
    """Merge every model (see :func:`merge_model`); write ``GRID/summary.csv``; model -> metrics.

    Refuses, before writing anything, with the list of every job not done; a model whose jobs predict a
    sample twice is refused by :func:`merge_model`."""
    status = grid_status(grid)
    problems = [f"{j.key} ({s})" for s in ("running", "failed", "missing") for j, _ in status[s]]
    if problems:
        raise InputError(f"cannot merge: {len(problems)} job(s) not done: {', '.join(problems)}")
    metrics = {m: merge_model(grid, m) for m in grid.models}
    write_text(grid.root / "summary.csv", summary_frame(metrics).to_csv(index=False))
    return metrics


def summary_frame(metrics: dict[str, dict[str, Any]]):
    """One row per model: seeds, folds, predictions per seed, mean and std over seeds of the headline metrics."""
    import pandas as pd

    rows = []
    for model, mt in metrics.items():
        row = {
            "model": model,
            "seeds": " ".join(map(str, mt["seeds"])),
            "folds": mt["folds"],
            "n_per_seed": mt["n_per_seed"],
        }
        for k in ("accuracy", "uf1", "uar"):
            row.update({f"{k}_mean": mt["over_seeds"][k]["mean"], f"{k}_std": mt["over_seeds"][k]["std"]})
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ executors
@dataclass
class SlurmOptions:
    """sbatch settings of each array task. ``time_min``: wall-clock limit in minutes; ``mem_gb``: None leaves
    the partition's default; ``setup``: shell lines run before the task (``module load ...``); ``extra``:
    any other sbatch option, e.g. ``{"account": "lab", "qos": "short"}``."""

    partition: str | None = None
    gpus_per_task: int = 0
    cpus_per_task: int = 2
    mem_gb: float | None = None
    time_min: int = 60
    array_parallelism: int = 64
    job_name: str = "mer-grid"
    setup: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


def pack(jobs: list[Job], per_task: int) -> list[list[Job]]:
    """Consecutive jobs (same model and seed where they can be) in tasks of at most ``per_task``."""
    if per_task < 1:
        raise InputError(f"folds per task must be >= 1, got {per_task}")
    return [jobs[i : i + per_task] for i in range(0, len(jobs), per_task)]


def _crashed(grid: Grid, task: list[Job], log: str | None, message: str) -> list[dict[str, Any]]:
    """States for a task whose process died (killed, out of memory, time limit): its unfinished jobs fail."""
    out = []
    for job in task:
        status, state = job_status(grid, job, queue={})
        if status != "done" and state.get("state") != "failed":
            state = {**state, "job": job.key, "state": "failed", "traceback": message, "log": log}
            state.pop("detail", None)
            _write_json(grid.state_path(job), state)
        out.append(state or {"job": job.key, "state": status})
    return out


def default_threads(processes: int) -> int:
    """Torch threads per local process: OMP_NUM_THREADS when set, else this machine's cores shared out (more
    threads than cores makes OpenMP spin, several times slower on a busy machine)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 1) // processes)


def run_local(
    grid: Grid,
    tasks: list[list[Job]],
    on_done: Callable[[dict], None],
    *,
    device: str = "auto",
    processes: int = 1,
    threads: int | None = None,
) -> None:
    """Run ``tasks`` in a pool of ``processes`` fresh (spawned) processes, each with ``threads`` torch threads
    (default: :func:`default_threads`); call ``on_done(state)`` as each job ends."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = threads or default_threads(processes)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    logs = [grid.root / "logs" / "local" / f"{stamp}-task{i:04d}.log" for i in range(len(tasks))]
    for task, log in zip(tasks, logs, strict=True):
        for job in task:
            _write_json(grid.state_path(job), {"job": job.key, "state": "submitted", "log": str(log), **_job_env()})
    with ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn")) as pool:
        futures = {
            pool.submit(run_task, str(grid.root), task, device, str(log), threads): (task, log)
            for task, log in zip(tasks, logs, strict=True)
        }
        for fut in as_completed(futures):
            task, log = futures[fut]
            try:
                states = fut.result()
            except Exception as err:  # noqa: BLE001  (the worker process died)
                states = _crashed(grid, task, str(log), f"the task's process died: {err!r}")
            for state in states:
                on_done(state)


def _slurm_executor(grid: Grid, opts: SlurmOptions):
    import shutil

    try:
        import submitit
    except ImportError:
        msg = "--executor slurm needs submitit: pip install 'mer[slurm]' (or pip install submitit)"
        raise InputError(msg) from None
    if shutil.which("sbatch") is None:
        raise InputError("--executor slurm needs sbatch on PATH: run mer grid on a login node of the cluster")
    setup = ['export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"']
    package_parent = Path(__file__).resolve().parents[2]
    if "site-packages" not in package_parent.parts:  # a source checkout: the task imports this same mer
        setup.append(f'export PYTHONPATH="{package_parent}${{PYTHONPATH:+:$PYTHONPATH}}"')
    executor = submitit.SlurmExecutor(folder=grid.root / "logs" / "slurm")
    params: dict[str, Any] = {
        "job_name": opts.job_name,
        "time": opts.time_min,
        "cpus_per_task": opts.cpus_per_task,
        "array_parallelism": opts.array_parallelism,
        "setup": setup + list(opts.setup),
    }
    if opts.partition:
        params["partition"] = opts.partition
    if opts.gpus_per_task:
        params["gpus_per_task"] = opts.gpus_per_task
    if opts.mem_gb:
        params["mem"] = f"{int(opts.mem_gb * 1024)}M"
    if opts.extra:
        params["additional_parameters"] = dict(opts.extra)
    executor.update_parameters(**params)
    return executor


def submit_slurm(grid: Grid, tasks: list[list[Job]], opts: SlurmOptions, device: str = "auto") -> list:
    """Submit ``tasks`` as one Slurm job array (one array task per task); return submitit's jobs."""
    executor = _slurm_executor(grid, opts)
    n = len(tasks)
    jobs = executor.map_array(run_task, [str(grid.root)] * n, tasks, [device] * n, [None] * n, [None] * n)
    for sjob, task in zip(jobs, tasks, strict=True):
        for job in task:
            _write_json(
                grid.state_path(job),
                {
                    "job": job.key,
                    "state": "submitted",
                    "slurm_job": sjob.job_id,
                    "log": str(sjob.paths.stderr),
                    "host": socket.gethostname(),
                },
            )
    return jobs


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return f"(no log at {path})"


def wait_slurm(
    grid: Grid, sjobs: list, tasks: list[list[Job]], on_done: Callable[[dict], None], poll_s: float = 5.0
) -> None:
    """Wait for submitted array tasks; call ``on_done(state)`` for each job. Watches submitit's result files
    and squeue (submitit's own watcher needs sacct, which clusters without accounting lack)."""
    pending = {sjob.job_id: (sjob, task) for sjob, task in zip(sjobs, tasks, strict=True)}
    unseen: dict[str, int] = {}
    while pending:
        queue = squeue_states()
        for jid, (sjob, task) in list(pending.items()):
            if sjob.paths.result_pickle.exists():
                try:
                    states = sjob.result()
                except Exception as err:  # noqa: BLE001  (the task raised outside a job)
                    states = _crashed(grid, task, str(sjob.paths.stderr), str(err))
            elif queue is not None and jid not in queue:
                unseen[jid] = unseen.get(jid, 0) + 1
                if unseen[jid] < 3:  # the result file may lag behind squeue on a shared file system
                    continue
                message = f"Slurm job {jid} ended without a result; the end of its log:\n{_tail(sjob.paths.stderr)}"
                states = _crashed(grid, task, str(sjob.paths.stderr), message)
            else:
                continue
            del pending[jid]
            for state in states:
                on_done(state)
        if pending:
            time.sleep(poll_s)


def run_grid(
    grid: Grid,
    executor: str = "local",
    *,
    device: str = "auto",
    folds_per_task: int = 1,
    processes: int = 1,
    threads: int | None = None,
    slurm: SlurmOptions | None = None,
    wait: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every missing or failed job of ``grid`` (done and still-running jobs are left alone).

    ``executor``: "local" (a pool of ``processes``) or "slurm" (one job array; ``wait=False`` returns after
    submitting). Returns the record appended to ``GRID/history.jsonl``: jobs, tasks, wall seconds, each job's
    seconds and the failed jobs' states (traceback and log path).
    """
    if executor not in ("local", "slurm"):
        raise InputError(f"unknown executor {executor!r}; use local or slurm")
    t0 = time.time()
    status = grid_status(grid)
    order = {job: i for i, job in enumerate(grid.jobs())}
    todo = sorted((j for s in ("failed", "missing") for j, _ in status[s]), key=order.__getitem__)
    tasks = pack(todo, folds_per_task)
    echo(
        f"{len(order)} jobs: {len(status['done'])} done, {len(status['running'])} running (left alone), "
        f"{len(status['failed'])} failed and {len(status['missing'])} missing to run now, in {len(tasks)} "
        f"task(s) of up to {folds_per_task} on {executor}"
    )
    results: list[dict[str, Any]] = []

    def on_done(state: dict[str, Any]) -> None:
        results.append(state)
        echo(
            f"[{len(results)}/{len(todo)}] {state['job']} {state['state']}"
            + (f" in {state['seconds']:.1f} s" if state.get("seconds") is not None else "")
        )

    record: dict[str, Any] = {
        "started": t0,
        "executor": executor,
        "jobs": len(todo),
        "tasks": len(tasks),
        "folds_per_task": folds_per_task,
        "device": device,
    }
    if tasks and executor == "local":
        record.update(processes=processes, threads=threads or default_threads(processes))
        run_local(grid, tasks, on_done, device=device, processes=processes, threads=threads)
    elif tasks:
        opts = slurm or SlurmOptions()
        record["slurm"] = asdict(opts)
        sjobs = submit_slurm(grid, tasks, opts, device)
        record["slurm_jobs"] = sorted({j.job_id.split("_")[0] for j in sjobs})
        echo(
            f"submitted Slurm job array {', '.join(record['slurm_jobs'])} ({len(sjobs)} task(s)); logs in "
            f"{grid.root / 'logs' / 'slurm'}"
        )
        if wait:
            wait_slurm(grid, sjobs, tasks, on_done)
    record.update(
        wall_s=time.time() - t0,
        waited=wait or executor == "local",
        job_seconds={s["job"]: s.get("seconds") for s in results if s.get("state") == "done"},
        failed=[s for s in results if s.get("state") != "done"],
    )
    with open(grid.root / "history.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    return record
