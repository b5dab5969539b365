"""Table 8 in one command: train every model leave-one-subject-out through the grid, then tabulate.

    python -m benchmarks accuracy --data CACHE --models A B ... --preset quick|paper --device D --out DIR
                                  [--executor local|slurm] [--seeds 1 2 3] [--set key=value ...]

Each model gets its own grid folder, ``DIR/grids/MODEL`` (mer.engine.grid: one job per seed and fold, resumable:
the same command again runs only what is missing). When every job of a model is done its predictions are merged
and its row is computed from them: accuracy, macro precision and macro recall (the paper's Table 8 columns),
UF1 and UAR, pooled over folds per seed, mean and sample std over seeds, beside the paper's reported figures
(benchmarks.paper). Without ``--data`` the synthetic set is made first (``mer synth`` then ``mer preprocess``
into ``DIR/data``) and the table says so.

Schedules (:data:`SCHEDULES`): ``paper`` is the paper's fixed schedule (Adam, lr 1e-3, 500 epochs, batch 64,
StepLR 100 x 0.9; the model after the last epoch is tested). ``quick`` is for small synthetic sets: up to
``epochs`` epochs with the epoch chosen on a validation subject drawn from each fold's *training* subjects
(validation UF1, early stop after ``patience`` epochs without improvement); the test subject chooses nothing.
Every row states its schedule and whether it converged (:func:`convergence`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mer.errors import InputError

CLASSICAL = ("lbptop_svm",)  # fitted in closed form per fold: no epochs, no schedule to converge
FIT_ACCURACY = 0.9  # a fold "fitted" its training subjects when its last epoch's training accuracy reaches this

# Per preset: settings for every model ("*"), then per model. The paper preset keeps the paper's schedule.
SCHEDULES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "*": {
            "epochs": 24,
            "batch_size": 4,
            "lr": 1e-3,
            "step_size": 15,
            "gamma": 0.9,
            "val_subjects": 1,
            "select_metric": "uf1",
            "patience": 6,
            "audit_every": 0,
            "checkpoint_every": 1,
        },
        # MOL's own optimiser (AdamW, lr 1e-4 in its code); its flow and landmark heads see one frame pair of
        # seven per step (ours, to fit a CPU); lr raised to 3e-4 for the short schedule. Its MER head reads the
        # F5C maps centred over the clip (ours, the model's default, stated on the row: without it MOL did not
        # learn here; mer.models.mol).
        "mer_mol": {
            "optimizer": "adamw",
            "lr": 3e-4,
            "weight_decay": 1e-3,
            "model_kwargs": {"aux_pairs": 1, "centre_maps": True},
        },
    },
    "paper": {
        "*": {},  # mer.engine.config.PRESETS["paper"]
        "mer_mol": {"optimizer": "adamw", "lr": 1e-4, "weight_decay": 1e-3, "model_kwargs": {"centre_maps": True}},
    },
}
BASE_PRESET = {"quick": "fast", "paper": "paper"}
DEFAULT_MODELS = ["lbptop_svm", "mer_fr", "mer_dbfem_caffm", "mer_mjfn", "mer_mol"]


@dataclass
class Synth:
    """The synthetic set made when no ``--data`` is given (``mer synth`` arguments)."""

    subjects: int = 4
    per_class: int = 3
    frames: int = 40
    seed: int = 1

    def describe(self) -> str:
        return (
            f"SYNTHETIC: mer synth --subjects {self.subjects} --per-class {self.per_class} --frames {self.frames} "
            f"--seed {self.seed}, then mer preprocess --derive (made by this command; says nothing about CASME II)"
        )


# ------------------------------------------------------------------------------------------------ settings
def schedule(preset: str, model: str, overrides: dict[str, Any] | None = None):
    """The TrainConfig of ``model`` under ``preset`` (then ``overrides``, e.g. from ``--set``)."""
    from mer.engine.config import build_config

    if preset not in SCHEDULES:
        raise InputError(f"--preset {preset!r}: choose from {', '.join(SCHEDULES)}")
    table = SCHEDULES[preset]
    values = {**table["*"], **table.get(model, {}), **(overrides or {}), "model": model}
    return build_config(BASE_PRESET[preset], values)


def describe_schedule(cfg: Any) -> str:
    """One line a reader can re-run: optimiser, lr, batch, epochs and how the tested epoch was chosen."""
    if cfg.model in CLASSICAL:
        return "LBP-TOP features + linear SVM, fitted once per fold (no epochs)"
    opt = f"{cfg.optimizer} lr {cfg.lr:g}" + (f" wd {cfg.weight_decay:g}" if cfg.weight_decay else "")
    text = f"{opt}, batch {cfg.batch_size}, StepLR {cfg.step_size}x{cfg.gamma:g}, "
    if cfg.val_subjects:
        stop = f", early stop after {cfg.patience} epochs without gain" if cfg.patience else ""
        text += (
            f"up to {cfg.epochs} epochs; epoch chosen by validation {cfg.select_metric} on {cfg.val_subjects} "
            f"training subject(s) per fold{stop}"
        )
    else:
        text += f"{cfg.epochs} epochs, last epoch tested (fixed schedule)"
    if cfg.model_kwargs:
        text += f"; {json.dumps(cfg.model_kwargs)}"
    return text


# ------------------------------------------------------------------------------------------------ the data
def make_synthetic(out: Path, synth: Synth, echo=print) -> Path:
    """``mer synth`` then ``mer preprocess --derive`` into ``out/synth`` and ``out/cache`` (kept when complete)."""
    cache = out / "cache"
    if (cache / "index.csv").is_file():
        echo(f"synthetic set: reusing {cache}")
        return cache
    py = [sys.executable, "-m", "mer"]
    steps = [
        [*py, "synth", "--out", str(out / "synth"), "--subjects", str(synth.subjects), "--per-class",
         str(synth.per_class), "--frames", str(synth.frames), "--seed", str(synth.seed)],
        [*py, "preprocess", "--dataset", "casme2", "--root", str(out / "synth"), "--out", str(cache), "--derive"],
    ]  # fmt: skip
    for cmd in steps:
        echo("$ " + " ".join(cmd[1:]))
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise InputError(f"making the synthetic set failed ({' '.join(cmd[2:4])}):\n{done.stderr[-2000:]}")
    return cache


# ------------------------------------------------------------------------------------------------ training
def train_model(
    out: Path,
    data: Path,
    cfg: Any,
    seeds: list[int],
    executor: str,
    device: str,
    processes: int,
    threads: int | None,
    collect: bool = False,
) -> dict[str, Any]:
    """Run (or resume) ``DIR/grids/MODEL``; merge it when every job is done. Returns the grid record.
    ``collect``: run nothing, only tabulate what is done (e.g. while a Slurm array or another process runs)."""
    from mer.engine.grid import create_grid, grid_status, merge_model, run_grid

    grid = create_grid(out / "grids" / cfg.model, data, [cfg.model], seeds, cfg)
    record = (
        {"wall_s": 0.0} if collect else run_grid(grid, executor, device=device, processes=processes, threads=threads)
    )
    status = grid_status(grid)
    record["done"] = len(status["done"]) == len(grid.jobs())
    record["jobs_done"] = f"{len(status['done'])}/{len(grid.jobs())}"
    if record["done"]:
        merge_model(grid, cfg.model)
        # the merged folder reads like a `mer train` run (benchmarks.accuracy.run_row, `benchmarks run --runs`)
        config = {"data": str(Path(data).resolve()), "train": {**cfg.to_dict(), "seeds": list(seeds)}}
        (grid.root / cfg.model / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return record


def _fold_outcomes(grid_root: Path, model: str) -> list[dict[str, Any]]:
    """Per (seed, fold): epochs run, the chosen epoch, early stop, last training accuracy, chosen val score."""
    rows = []
    for done_file in sorted((grid_root / model).glob("seed*/folds/seed*/fold*/done.json")):
        done = json.loads(done_file.read_text())
        hist_file = done_file.with_name("history.json")
        history = json.loads(hist_file.read_text()) if hist_file.is_file() else []
        last = history[-1] if history else {}
        chosen = next((h for h in history if h.get("epoch") == done.get("selected_epoch")), {})
        rows.append(
            {
                "fold": done_file.parent.name,
                "epochs_run": done.get("epochs_run"),
                "selected_epoch": done.get("selected_epoch"),
                "stopped_early": bool(done.get("stopped_early")),
                "last_train_accuracy": last.get("train_accuracy"),
                "val_score": chosen.get("val_score"),
            }
        )
    return rows


def convergence(cfg: Any, folds: list[dict[str, Any]]) -> str:
    """Whether a model's training converged, by a stated rule.

    A fold converged when its training reached ``FIT_ACCURACY`` training accuracy at its last epoch and, with a
    validation split, the validation score stopped improving (early stop), or the schedule ran out with the chosen
    epoch at least ``patience`` epochs before the end, or the chosen epoch's validation score was perfect (1.0).
    Returns "yes (k/k folds)" or "NO (...)" with the reason.
    """
    if cfg.model in CLASSICAL:
        return "n/a (closed-form fit)"
    if not folds:
        return "– (no fold finished yet)"
    reasons = []
    for f in folds:
        acc = f["last_train_accuracy"]
        if acc is None or acc < FIT_ACCURACY:
            reasons.append(f"{f['fold']}: train acc {acc if acc is None else round(acc, 2)} < {FIT_ACCURACY}")
        elif (
            cfg.val_subjects
            and not f["stopped_early"]
            and f["epochs_run"] - f["selected_epoch"] < cfg.patience
            and not (f.get("val_score") is not None and f["val_score"] >= 1.0 and cfg.select_metric != "loss")
        ):
            reasons.append(f"{f['fold']}: validation still improving at epoch {f['selected_epoch']}")
    if reasons:
        return f"NO ({len(folds) - len(reasons)}/{len(folds)} folds; " + "; ".join(reasons) + ")"
    return f"yes ({len(folds)}/{len(folds)} folds)"


# ------------------------------------------------------------------------------------------------ the table
def model_row(out: Path, cfg: Any, data_label: str, record: dict[str, Any]) -> dict[str, Any]:
    """A measured Table 8 row for one model (or a row saying it is not finished)."""
    from benchmarks import paper
    from benchmarks.accuracy import run_row

    merged = out / "grids" / cfg.model / cfg.model
    folds = _fold_outcomes(out / "grids" / cfg.model, cfg.model)
    row: dict[str, Any] = {"kind": "measured", "method": cfg.model, "model": cfg.model, "data_source": data_label}
    if record.get("done") and (merged / "predictions.csv").is_file():
        row.update({k: v for k, v in run_row(merged).items() if k not in ("method", "model", "data_source")})
        row["status"] = "done"
    else:
        why = "failed jobs" if record.get("failed") else f"{record.get('jobs_done', '?')} jobs done"
        row["status"] = f"NOT FINISHED ({why})"
        row.update(partial_metrics(out / "grids" / cfg.model / cfg.model / "jobs"))
    chosen = [f["selected_epoch"] for f in folds if f["selected_epoch"]]
    row.update(
        schedule=describe_schedule(cfg),
        converged=convergence(cfg, folds),
        epochs=cfg.epochs if cfg.model not in CLASSICAL else None,
        chosen_epochs=" ".join(str(e) for e in chosen) if cfg.model not in CLASSICAL else "",
        train_wall_s=_job_seconds(out / "grids" / cfg.model, cfg.model) or round(record.get("wall_s", 0.0), 1),
    )
    reported = next((r for r in paper.TABLE8 if r.get("model") == cfg.model), None)
    if reported:
        row.update(paper_method=reported["method"], paper_accuracy=reported["accuracy"])
        row.update(paper_precision=reported["precision"], paper_recall=reported["recall"])
    return row


def _job_seconds(grid_root: Path, model: str) -> float:
    """Seconds the model's finished jobs took (the grid's job records, last attempt each); 0 when none says.
    Read from the records so that ``--collect`` (which trains nothing) still reports the training time."""
    total = 0.0
    for record in (grid_root / model / "jobs").glob("seed*_fold*.json"):
        with contextlib.suppress(ValueError, OSError):
            total += float(json.loads(record.read_text()).get("seconds") or 0.0)
    return round(total, 1)


def partial_metrics(jobs: Path) -> dict[str, Any]:
    """Metrics pooled over the folds finished so far (``jobs/*.csv``), marked PARTIAL with their test subjects;
    {} when none is finished. Not a leave-one-subject-out figure: fewer test subjects, said on the row."""
    from mer.engine.metrics import PREDICTION_DTYPES, class_names_of, pooled_metrics

    files = sorted(jobs.glob("seed*_fold*.csv"))
    if not files:
        return {}
    df = pd.concat([pd.read_csv(f, dtype=PREDICTION_DTYPES) for f in files], ignore_index=True)
    metrics = pooled_metrics(df, class_names_of(df))
    subjects = " ".join(sorted(df["subject"].astype(str).unique()))
    out: dict[str, Any] = {"seeds": len(metrics["seeds"]), "samples_per_seed": metrics["n_per_seed"]}
    for m in ("accuracy", "macro_precision", "macro_recall", "uf1", "uar"):
        out[m], out[f"{m}_std"] = metrics["over_seeds"][m]["mean"], metrics["over_seeds"][m]["std"]
    out["partial"] = f"PARTIAL: {len(files)} fold(s) done, test subjects {subjects}"
    return out


VIEW = {
    "method": "method",
    "accuracy": "accuracy",
    "macro_precision": "macro precision",
    "macro_recall": "macro recall",
    "uf1": "UF1",
    "uar": "UAR",
    "seeds": "seeds",
    "samples_per_seed": "test samples per seed",
    "chosen_epochs": "chosen epoch per fold",
    "converged": "converged",
    "status": "status",
    "partial": "partial",
    "paper_accuracy": "paper accuracy",
    "paper_precision": "paper precision",
    "paper_recall": "paper recall",
    "schedule": "schedule",
}


def table_view(table: pd.DataFrame) -> pd.DataFrame:
    """The Table 8 view: the paper's three columns, then UF1 and UAR (mean ± std over seeds), then provenance."""
    view = pd.DataFrame(index=table.index)
    for key, label in VIEW.items():
        if key not in table:
            view[label] = "–"
            continue
        col = table[key]
        if key in ("accuracy", "macro_precision", "macro_recall", "uf1", "uar"):
            std = table.get(f"{key}_std")
            col = [
                "–" if pd.isna(v) else (f"{v:.3f}" if std is None or pd.isna(s) or not s else f"{v:.3f} ± {s:.3f}")
                for v, s in zip(col, std if std is not None else [None] * len(col), strict=True)
            ]
        if key in ("seeds", "samples_per_seed"):
            col = ["–" if pd.isna(v) else str(int(v)) for v in col]
        view[label] = col
    return view.fillna("–")


def paper_table() -> pd.DataFrame:
    from benchmarks import paper

    return pd.DataFrame(
        [
            {"method": r["method"], "our model": r.get("model") or "–", "accuracy": r["accuracy"],
             "precision": r["precision"], "recall": r["recall"]}
            for r in paper.TABLE8
        ]
    )  # fmt: skip


def write_table(out: Path, table: pd.DataFrame, meta: dict[str, Any]) -> list[Path]:
    """table8.csv (every column), table8.md and table8.html (the view, the paper's table, how it was made)."""
    out.mkdir(parents=True, exist_ok=True)
    view, reported = table_view(table), paper_table()
    lines = [
        "# Table 8 re-run",
        "",
        f"**Data: {meta['data']}**",
        "",
        f"Protocol: leave-one-subject-out, pooled over folds per seed, mean ± sample std over seeds {meta['seeds']}; "
        f"device {meta['device']}; preset `{meta['preset']}`. Accuracy, macro precision and macro recall are the "
        "paper's Table 8 columns; UF1 (macro F1) and UAR (unweighted average recall, the same as macro recall) "
        "beside them. The paper's "
        "figures are on CASME II and are not comparable with a synthetic row.",
        "",
        view.to_markdown(index=False),
        "",
        f"Converged: every fold reached training accuracy {FIT_ACCURACY} at its last epoch, and its validation "
        "score (a training subject, never the test one) had stopped improving or was perfect. A row that says NO is "
        "reported as measured.",
        "",
        "## The paper's Table 8 (CASME II, as printed; not measured here)",
        "",
        reported.to_markdown(index=False),
        "",
        "## How it was made",
        "",
        f"- command: `{meta['command']}`",
        f"- this invocation: started {meta['started']}, wall {meta['wall_s']:.0f} s ({meta['wall_s'] / 60:.1f} min)",
        f"- training, all invocations: {meta.get('training_span', 'unknown')}",
        f"- host: {meta['host']}",
        f"- load: {meta['load_note']}",
    ]
    md = "\n".join(lines) + "\n"
    import html as _html

    protocol, rule = (_html.escape(lines[i]) for i in (4, 8))  # the two paragraphs around the table
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Table 8 re-run</title><style>"
        "body{font-family:sans-serif;max-width:1400px;margin:2em auto}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>"
        f"<h1>Table 8 re-run</h1><p><b>Data: {_html.escape(meta['data'])}</b></p><p>{protocol}</p>"
        f"{view.to_html(index=False, escape=True)}<p>{rule}</p><h2>The paper's Table 8 (CASME II, as printed)</h2>"
        f"{reported.to_html(index=False)}<h2>How it was made</h2><pre>{json.dumps(meta, indent=1)}</pre></body></html>"
    )
    paths = [out / "table8.csv", out / "table8.md", out / "table8.html", out / "table8.json"]
    table.to_csv(paths[0], index=False)
    paths[1].write_text(md)
    paths[2].write_text(html)
    paths[3].write_text(json.dumps(meta, indent=1) + "\n")
    return paths


# ------------------------------------------------------------------------------------------------ command
def run_accuracy(args: Any) -> int:
    """``python -m benchmarks accuracy``: make or open the data, train each model through its grid, tabulate."""
    from benchmarks.common import resolve_device
    from benchmarks.speed import load_average
    from mer.engine.config import parse_overrides

    out: Path = args.out
    device = resolve_device(args.device)
    overrides = parse_overrides(args.set)
    if any(k in overrides for k in ("model", "seeds")):
        raise InputError("set models and seeds with --models and --seeds, not --set")
    cfgs = [schedule(args.preset, m, overrides) for m in args.models]  # every setting checked before training
    started, t0, load0 = time.strftime("%Y-%m-%d %H:%M:%S %z"), time.time(), load_average()
    if args.data is None:
        data = make_synthetic(out / "data", Synth(args.synth_subjects, args.synth_per_class, args.synth_frames))
        label = Synth(args.synth_subjects, args.synth_per_class, args.synth_frames).describe()
    else:
        data = Path(args.data)
        if not (data / "index.csv").is_file():
            raise InputError(f"--data {data}: no index.csv there; give a cache made by `mer preprocess --out CACHE`")
        label = _data_label(data)
    rows = []
    for cfg in cfgs:
        print(f"== {cfg.model}: {describe_schedule(cfg)}", flush=True)
        record = train_model(
            out, data, cfg, args.seeds, args.executor, str(device), args.processes, args.threads, args.collect
        )
        rows.append(model_row(out, cfg, label, record))
        partial = {"finished": [r["model"] for r in rows]}
        meta = _meta(args, device, started, t0, load0, label, partial)
        write_table(out, pd.DataFrame(rows), meta)  # written after every model: an interrupted run keeps its rows
    print((out / "table8.md").read_text())
    return 0 if all(r["status"] == "done" for r in rows) else 1


def _data_label(cache: Path) -> str:
    from mer.engine.data import open_cache

    opened = open_cache(cache)
    if opened.synthetic:
        return f"SYNTHETIC ({opened.dataset} layout, {cache}); says nothing about real micro-expressions"
    return f"{opened.dataset} ({cache})"


def training_span(out: Path) -> str:
    """Wall clock of the training, over every invocation, per model: from the first task log its local pool
    opened (the name carries the time) to its last job's predictions (file times in ``DIR/grids/MODEL``). Per
    model, because models trained at different times (a model re-run later would otherwise stretch one span)."""
    spans = [_span(grid) for grid in sorted((out / "grids").glob("*")) if grid.is_dir()]
    spans = [s for s in spans if s]
    return "; ".join(spans) if spans else "unknown"


def _span(grid: Path) -> str:
    import calendar

    starts = []
    for log in grid.glob("logs/local/*-task*.log"):
        with contextlib.suppress(ValueError):
            starts.append(calendar.timegm(time.strptime(log.name[:15], "%Y%m%dT%H%M%S")))
    ends = [p.stat().st_mtime for p in grid.glob("*/jobs/*.csv")]
    if not starts or not ends:
        return ""
    first, last = min(starts), max(ends)
    return (
        f"{grid.name} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(first))} to "
        f"{time.strftime('%H:%M', time.gmtime(last))} UTC ({(last - first) / 60:.0f} min)"
    )


def _meta(args, device, started, t0, load0, label, extra) -> dict[str, Any]:
    import shlex

    from benchmarks.common import load_note
    from benchmarks.speed import host_metadata, load_average

    host = host_metadata(device)
    return {
        "command": "python -m benchmarks " + shlex.join(getattr(args, "argv", [])),
        "data": label,
        "preset": args.preset,
        "seeds": args.seeds,
        "device": str(device),
        "executor": args.executor,
        "started": started,
        "wall_s": time.time() - t0,
        "host": f"{host.get('cpu_model')}, {host.get('logical_cpus')} logical CPUs, {host.get('gpu_name') or 'no GPU'}",
        "load_note": load_note(load0, load_average()),
        "training_span": training_span(args.out),
        **extra,
    }


def add_parser(sub: Any) -> None:
    """Register ``accuracy`` on the ``python -m benchmarks`` sub-parsers."""
    from pathlib import Path as _Path

    p = sub.add_parser("accuracy", help="train every model leave-one-subject-out (the grid) and write Table 8")
    p.add_argument(
        "--data", type=_Path, default=None, help="cache from `mer preprocess` (default: make a synthetic set)"
    )
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help=f"default {' '.join(DEFAULT_MODELS)}")
    p.add_argument("--preset", default="quick", choices=sorted(SCHEDULES), help="quick (default) or paper")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--out", type=_Path, required=True, help="output folder (grids/, table8.*; resumable)")
    p.add_argument("--executor", default="local", choices=("local", "slurm"), help="where the jobs run")
    p.add_argument("--seeds", type=int, nargs="+", default=[1], help="training seeds (default 1)")
    p.add_argument("--processes", type=int, default=1, help="local executor: jobs at once (default 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per job (default: cores / processes)")
    p.add_argument("--collect", action="store_true", help="train nothing: tabulate the jobs already done")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a training setting for all")
    p.add_argument("--synth-subjects", type=int, default=Synth.subjects, help="without --data: synthetic subjects")
    p.add_argument("--synth-per-class", type=int, default=Synth.per_class, help="without --data: samples per class")
    p.add_argument("--synth-frames", type=int, default=Synth.frames, help="without --data: frames per sample")
    p.set_defaults(func=run_accuracy)
