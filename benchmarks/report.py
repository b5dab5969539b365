"""Write the benchmark outputs: one CSV per table, ``report.md`` and ``report.html`` (plotly), made to be read.

The report opens with the summary tables (complexity, speed, accuracy measured here, the paper's reported rows
apart, the targets), states the host once, then gives the detail tables. Empty cells read "–", never "None".
Every chart point says whether it was measured or reported and where it comes from. The page stays under
1,300 px wide: wide tables scroll inside their own box.

``python -m benchmarks report DIR`` re-renders report.md and report.html from the CSVs (and meta.json) in DIR.
"""

from __future__ import annotations

import html
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly

TABLES = ("complexity", "speed", "matmul", "roofline", "training", "accuracy", "e2e")
TARGET_MODEL = "mer_dbfem_caffm"
PAGE_WIDTH = 1200  # px, charts; the page body is at most 1,260 px
EMPTY = "–"
# A run is steady enough to judge a speed target (and to print speed-ups) when the baseline's p90 latency is within
# this factor of its median, the machine's 1-min load average stayed under half its logical CPUs, and the dense
# matmul rate measured after the speed section is within STEADY_DRIFT of the one before (clocks, throttling, load).
STEADY_SPREAD, STEADY_LOAD, STEADY_DRIFT = 1.3, 0.5, 0.10
HOST_FACTS = {
    "cpu_model": "CPU",
    "physical_cores": "physical cores",
    "logical_cpus": "logical CPUs",
    "torch_threads": "torch threads",
    "gpu_name": "GPU",
    "gpu_driver": "GPU driver",
    "torch_version": "torch",
    "cuda_version": "CUDA (torch build)",
    "onnxruntime_version": "onnxruntime",
    "platform": "platform",
    "python": "python",
}
RUN_FACTS = {
    "device": "device",
    "command": "command",
    "started": "started",
    "duration_s": "duration (s)",
    "timing": "timing policy",
    "load_note": "machine load",
    "gpu_note": "GPU",
}
# (column in the CSV, heading shown) per summary table
COMPLEXITY_SHOWN = {
    "model": "model",
    "part": "part",
    "note": "note",
    "params_m": "params (M)",
    "gmacs": "GMACs (fvcore)",
    "paper_row": "paper row",
    "paper_params_m": "paper M",
    "paper_gmacs": "paper G",
    "reference_params_m": "reference M",
    "reference_gmacs": "reference G",
    "reference_source": "reference",
    "within_tolerance": "within ±15 %",
}
SPEED_SUMMARY_SHOWN = {
    "model": "model",
    "batch_size": "batch",
    "eager_fp32_fps": "eager fp32 FPS",
    "fastest_variant": "fastest variant",
    "fastest_fps": "its FPS",
    "speedup_vs_eager": "speed-up",
    "speedup_note": "speed-up note",
    "fastest_fp32_variant": "fastest fp32 variant",
    "fastest_fp32_fps": "its FPS ",
    "paper_fps_table7": "paper FPS (Table 7)",
}
SPEED_SHOWN = {
    "model": "model",
    "backend": "backend",
    "precision": "precision",
    "channels_last": "channels_last",
    "batch_size": "batch",
    "fps": "FPS",
    "latency_ms_median": "median ms",
    "latency_ms_p90": "p90 ms",
    "repeats": "repeats",
    "setup_s": "setup s",
    "peak_mem_mb": "peak GPU MiB",
    "max_abs_diff": "max |diff|",
    "status": "status",
    "notes": "notes",
}
MEASURED_SHOWN = {
    "method": "method",
    "data_source": "data",
    "protocol": "protocol",
    "epochs": "epochs",
    "seeds": "seeds",
    "samples_per_seed": "test samples per seed",
    "accuracy": "accuracy",
    "macro_precision": "macro precision",
    "macro_recall": "macro recall",
    "uf1": "UF1",
    "uar": "UAR",
    "uf1_std": "UF1 std over seeds",
    "gmacs": "GMACs (fvcore)",
    "note": "note",
    "source": "run",
}
REPORTED_SHOWN = {
    "method": "method",
    "model": "our model",
    "accuracy": "accuracy",
    "macro_precision": "precision",
    "macro_recall": "recall",
    "uf1": "UF1",
    "uar": "UAR",
    "params_m": "paper M",
    "gmacs": "paper G",
    "source": "source",
}
MATMUL_SHOWN = {
    "run_pass": "when",
    "precision": "precision",
    "n": "n",
    "gflops_median": "GFLOP/s (median)",
    "gflops_p90_time": "GFLOP/s (p90 time)",
    "repeats": "repeats",
    "load_avg_1m": "1-min load",
    "status": "status",
}
TRAINING_SHOWN = {
    "model": "model",
    "precision": "precision",
    "batch_size": "batch",
    "samples_per_s": "samples/s",
    "step_ms_median": "median step ms",
    "step_ms_p90": "p90 step ms",
    "steps": "steps",
    "peak_mem_mb": "peak GPU MiB",
    "status": "status",
}
TARGETS_SHOWN = {
    "target": "target",
    "which": "which",
    "variant": "variant",
    "batch_size": "batch",
    "value": "value",
    "goal": "goal",
    "reference": "reference",
    "verdict": "verdict",
    "note": "note",
}
RECONSTRUCTIONS = {"mer_fr": "RECONSTRUCTION after FR, sizes ours", "mer_mjfn": "RECONSTRUCTION after MJFN, sizes ours"}


def variant_label(df: pd.DataFrame) -> pd.Series:
    """``backend/precision[/channels_last]`` for each speed or roofline row."""
    cl = df["channels_last"].astype(str).str.lower().isin(("true", "1"))
    return df["backend"] + "/" + df["precision"] + np.where(cl, "/channels_last", "")


# ---------------------------------------------------------------------------------------------- targets
def matmul_drift(matmul: pd.DataFrame | None) -> float | None:
    """The largest relative change of the dense matmul rate between the passes before and after the speed
    section, over precisions (None when either pass is missing)."""
    if matmul is None or matmul.empty or not {"run_pass", "gflops_median", "precision"} <= set(matmul.columns):
        return None
    ok = matmul[matmul.get("status", "ok") == "ok"]
    wide = ok.pivot_table(index="precision", columns="run_pass", values="gflops_median", aggfunc="max")
    if not {"before", "after"} <= set(wide.columns) or wide.empty:
        return None
    return float(((wide["after"] - wide["before"]).abs() / wide[["before", "after"]].max(axis=1)).max())


def steadiness(speed: pd.DataFrame, model: str = TARGET_MODEL, matmul: pd.DataFrame | None = None) -> tuple[bool, str]:
    """Whether the run was steady enough to judge a speed target, and why: the eager fp32 batch-1 row's latency
    spread and load, and the drift of the matmul rate across the speed section (when ``matmul`` is given)."""
    if speed.empty or not {"latency_ms_median", "latency_ms_p90"} <= set(speed.columns):
        return True, "no latency spread recorded"
    base = speed[(speed["model"] == model) & (speed["status"] == "ok") & (speed["batch_size"] == 1)]
    base = base[variant_label(base) == "eager/fp32"] if len(base) else base
    if base.empty:
        return False, "no eager fp32 batch-1 baseline"
    row = base.iloc[0]
    spread = float(row["latency_ms_p90"]) / float(row["latency_ms_median"])
    cpus = float(row.get("logical_cpus", 0) or 0)
    load = float(row.get("load_avg_1m", 0) or 0)
    reasons = []
    if spread > STEADY_SPREAD:
        reasons.append(f"baseline p90/median latency {spread:.2f} > {STEADY_SPREAD}")
    if cpus and load > STEADY_LOAD * cpus and str(row.get("device", "cpu")).startswith("cpu"):
        reasons.append(f"1-min load {load:.1f} on {cpus:.0f} CPUs")
    drift = matmul_drift(matmul)
    if drift is not None and drift > STEADY_DRIFT:
        reasons.append(f"matmul rate changed {100 * drift:.0f} % across the speed section")
    fps = float(row["fps"])
    if reasons:
        return False, f"not steady ({'; '.join(reasons)}; eager baseline {fps:.2f} FPS)"
    moved = "" if drift is None else f", matmul rate moved {100 * drift:.0f} %"
    return True, f"steady (baseline p90/median {spread:.2f}{moved}, eager {fps:.2f} FPS)"


def _target_row(target: str, which: str, best: pd.Series, reference: str, value: float, goal: float) -> dict:
    return {
        "target": target,
        "which": which,
        "variant": best["variant"],
        "batch_size": int(best["batch_size"]),
        "fps": float(best["fps"]),
        "reference": reference,
        "value": value,
        "goal": goal,
        "met": value >= goal,
    }


def _batch1_targets(ok: pd.DataFrame) -> list[dict[str, Any]]:
    one = ok[ok["batch_size"] == 1]
    base = one[one["variant"] == "eager/fp32"]
    if one.empty or base.empty:
        return []
    eager = float(base["fps"].iloc[0])
    best, best32 = one.loc[one["fps"].idxmax()], one[one["precision"] == "fp32"].loc[lambda d: d["fps"].idxmax()]
    goal, ref = 3.0, f"eager fp32 {eager:.2f} FPS"
    return [
        _target_row("batch 1: best >= 3x eager fp32", label, b, ref, float(b["fps"]) / eager, goal)
        for label, b in (("best variant", best), ("best fp32 variant", best32))
    ]


def _batched_targets(roofline: pd.DataFrame, model: str) -> list[dict[str, Any]]:
    rl = roofline[roofline["model"] == model].dropna(subset=["fraction_of_matmul"]).copy()
    if rl.empty:
        return []
    rl["variant"] = variant_label(rl)
    top = rl[rl["batch_size"] == rl["batch_size"].max()]
    name, rows = "batched: best >= 50% of matmul rate", []
    for label, sub in (
        ("best variant (own-precision matmul)", top),
        ("best fp32 variant", top[top["precision"] == "fp32"]),
    ):
        if len(sub):
            b = sub.loc[sub["fraction_of_matmul"].idxmax()]
            ref = (
                f"{b['precision']} matmul {b['matmul_gflops']:.1f} GFLOP/s, achieved {b['achieved_gflops']:.1f} GFLOP/s"
            )
            rows.append(_target_row(name, label, b, ref, float(b["fraction_of_matmul"]), 0.5))
    mm32 = rl.loc[rl["precision"] == "fp32", "matmul_gflops"]
    if len(mm32):
        b = top.loc[top["achieved_gflops"].idxmax()]
        ref = f"fp32 matmul {float(mm32.iloc[0]):.1f} GFLOP/s"
        rows.append(
            _target_row(name, "fastest, vs fp32 matmul", b, ref, float(b["achieved_gflops"]) / float(mm32.iloc[0]), 0.5)
        )
    return rows


def performance_targets(
    speed: pd.DataFrame, roofline: pd.DataFrame, model: str = TARGET_MODEL, matmul: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The speed targets for ``model`` from this run's rows, each with ``verdict``: "met", "missed" or "not
    judged: <why>" when the run was not steady enough (:func:`steadiness`).

    1. best variant at batch 1 >= 3x eager fp32 (contiguous) at batch 1;
    2. best variant at the largest batch measured >= 50% of the matmul rate (its own precision's and fp32's).
    """
    if speed.empty or "fps" not in speed:
        return pd.DataFrame()
    ok = speed[(speed["model"] == model) & (speed["status"] == "ok")].copy()
    if ok.empty:
        return pd.DataFrame()
    ok["variant"] = variant_label(ok)
    rows = _batch1_targets(ok) + (_batched_targets(roofline, model) if not roofline.empty else [])
    steady, why = steadiness(speed, model, matmul)
    for r in rows:
        r["judged"] = steady
        r["verdict"] = ("met" if r["met"] else "missed") if steady else "not judged (run not steady, see above)"
        above = r["target"].startswith("batched") and r["value"] > 1.0
        r["note"] = "above 100 % of the measured matmul rate: see the roofline note" if above else ""
    return pd.DataFrame(rows)


def speed_summary(speed: pd.DataFrame, steady: bool = True) -> pd.DataFrame:
    """Per model and batch size: eager fp32 FPS, the fastest checked variant and its speed-up, paper FPS.

    On a run that was not steady (:func:`steadiness`) the speed-ups are left out (NaN) and ``speedup_note``
    says so: a ratio between variants timed while the load moved is not a speed-up."""
    if speed.empty or "fps" not in speed:
        return pd.DataFrame()
    from benchmarks import paper

    ok = speed[speed["status"] == "ok"].copy()
    ok["variant"] = variant_label(ok)
    rows = []
    for (model, bs), g in ok.groupby(["model", "batch_size"], sort=False):
        eager = g.loc[g["variant"] == "eager/fp32", "fps"]
        best = g.loc[g["fps"].idxmax()]
        best32 = g[g["precision"] == "fp32"].loc[lambda d: d["fps"].idxmax()]
        t7 = paper.table7_row(model)
        e = float(eager.iloc[0]) if len(eager) else float("nan")
        rows.append(
            {
                "model": model,
                "batch_size": int(bs),
                "eager_fp32_fps": e,
                "fastest_variant": best["variant"],
                "fastest_fps": float(best["fps"]),
                "speedup_vs_eager": float(best["fps"]) / e if steady else float("nan"),
                "speedup_note": "" if steady else "not shown: run not steady (see Speed targets)",
                "fastest_fp32_variant": best32["variant"],
                "fastest_fp32_fps": float(best32["fps"]),
                "fp32_speedup_vs_eager": float(best32["fps"]) / e if steady else float("nan"),
                "paper_fps_table7": t7["fps"] if t7 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- tables
def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    if isinstance(value, str) and value.strip() in ("", "None", "nan"):
        return EMPTY
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return value


def shown(df: pd.DataFrame | None, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The columns to show, renamed to their headings, every cell formatted ("–" for empty, never None)."""
    if df is None or df.empty:
        return pd.DataFrame()
    if columns:
        df = df[[c for c in columns if c in df.columns]].rename(columns=columns)
    return df.astype(object).map(_cell)


def to_markdown(df: pd.DataFrame, columns: dict[str, str] | None = None) -> str:
    """A Markdown table of :func:`shown`; ``_(no rows)_`` when empty."""
    table = shown(df, columns)
    return "_(no rows)_" if table.empty else table.to_markdown(index=False)


def to_html(df: pd.DataFrame, columns: dict[str, str] | None = None) -> str:
    table = shown(df, columns)
    if table.empty:
        return "<p><em>(no rows)</em></p>"
    return "<div class='scroll'>" + table.to_html(index=False, escape=True, border=0) + "</div>"


def accuracy_parts(acc: pd.DataFrame, comp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measured rows with our fvcore GMACs and a note, reported rows)."""
    if acc.empty or "kind" not in acc:
        return pd.DataFrame(), pd.DataFrame()
    measured = acc[acc["kind"] == "measured"].drop(columns=["gmacs"], errors="ignore").copy()
    if not comp.empty and "gmacs" in comp:
        # a measured accuracy is the recognition path's (MOL's inference), not the full training network's
        first = comp[comp["part"].isin(["model", "recognition"])] if "part" in comp else comp
        first = first.drop_duplicates("model")
        measured = measured.merge(first[["model", "gmacs"]], on="model", how="left")
    measured["note"] = measured["model"].map(RECONSTRUCTIONS).fillna("")
    return measured, acc[acc["kind"] == "reported"]


def _facts(meta: dict[str, Any]) -> list[tuple[str, str]]:
    host = meta.get("host", {})
    facts = [(label, str(host[k])) for k, label in HOST_FACTS.items() if host.get(k) not in (None, "")]
    facts += [(label, str(meta[k])) for k, label in RUN_FACTS.items() if meta.get(k) not in (None, "")]
    kept = meta.get("kept_from_earlier_run")
    while kept:  # the run the kept sections came from, then the run that one had kept its own from
        if kept.get("sections"):
            when = f"started {kept.get('started')}: " if kept.get("started") else ""
            facts.append(("kept from an earlier run", f"{', '.join(kept['sections'])} ({when}{kept.get('command')})"))
        kept = kept.get("earlier")
    return facts


def sections(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> list[tuple[str, str, pd.DataFrame, dict | None]]:
    """(heading, explanation, table, columns) in reading order: summaries first, then detail."""
    t = {k: tables.get(k, pd.DataFrame()) for k in TABLES}
    measured, reported = accuracy_parts(t["accuracy"], t["complexity"])
    steady, why = steadiness(t["speed"], matmul=t["matmul"])
    return [
        (
            "Complexity",
            "Parameters and fvcore GMACs (one multiply-add counted once) at batch 1 on each model's "
            "declared input. Ours beside the paper's Table 7; MOL (its full training network and the recognition "
            "path inference runs) beside the figures measured from its public code; FR and MJFN are "
            "reconstructions whose sizes are ours.",
            t["complexity"],
            COMPLEXITY_SHOWN,
        ),
        (
            "Speed summary",
            "Eager fp32 and the fastest variant whose outputs matched eager fp32, per model and "
            "batch size. Speed-ups are printed only for a steady run; this run: "
            f"{why}. The paper's FPS was measured on hardware it does not name: context, not a target. mer_mol "
            "rows time its recognition path (what inference runs).",
            speed_summary(t["speed"], steady),
            SPEED_SUMMARY_SHOWN,
        ),
        (
            "Accuracy measured here",
            "Pooled over all folds per seed, then mean over seeds: accuracy, macro precision and macro recall as "
            "the paper's Table 8 prints them, UF1 (macro F1) and UAR beside them. The data source is on every "
            "row: a synthetic-data figure says nothing about CASME II.",
            measured,
            MEASURED_SHOWN,
        ),
        (
            "Accuracy reported by the papers (not measured here)",
            "As printed; their protocols differ from ours and from each other.",
            reported,
            REPORTED_SHOWN,
        ),
        (
            "Speed targets",
            f"Judged only on a steady run; this run: {why}.",
            performance_targets(t["speed"], t["roofline"], matmul=t["matmul"]),
            TARGETS_SHOWN,
        ),
        (
            "Training throughput",
            "Full training steps (forward, cross-entropy, backward, Adam) on random inputs of the model's size; "
            "samples/s = batch / median step time; amp_* rows under autocast as `mer train --amp`. Peak GPU memory "
            "from torch's allocator (CUDA only).",
            t["training"],
            TRAINING_SHOWN,
        ),
        (
            "Speed, every variant",
            "Interleaved timing (one batch of each variant per round), device synchronised "
            "around each batch; FPS = batch / median seconds. A failed row says why.",
            t["speed"],
            SPEED_SHOWN,
        ),
        (
            "Dense matmul rate",
            "torch.mm of two n x n matrices, 2 n^3 flops, median over repeats; measured "
            "before and after the speed section.",
            t["matmul"],
            MATMUL_SHOWN,
        ),
        (
            "Roofline",
            "Achieved rate = 2 x GMACs x FPS, against the matmul rate of the row's precision (the higher of the "
            "two passes). The matmul rate is measured, not the hardware's peak: a row above 100 % is flagged in "
            "its note (fewer real flops than 2 x MACs in Winograd/FFT convolutions, a matmul size that is not the "
            "device's best case, or load that moved between the measurements).",
            t["roofline"],
            None,
        ),
        ("End to end", "One clip through mer.inference.Predictor (align, spot, flow, model).", t["e2e"], None),
    ]


def markdown_report(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> str:
    """The whole report as Markdown: summaries, then the host facts once, then the detail tables."""
    out = ["# mer benchmark report", ""]
    parts = sections(tables, meta)
    for heading, text, df, columns in parts[:6]:
        out += [f"## {heading}", "", text, "", to_markdown(df, columns), ""]
    out += ["## Host and run", "", *[f"- **{k}**: {v}" for k, v in _facts(meta)], ""]
    for heading, text, df, columns in parts[6:]:
        out += [f"## {heading}", "", text, "", to_markdown(df, columns), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- charts
def _accuracy_figure(tables: dict[str, pd.DataFrame]) -> Any:
    """Accuracy against OUR fvcore GMACs: measured points (synthetic runs) and, marked apart, accuracies the
    papers report for models we count (placed at our count of that model, never at the paper's G)."""
    import plotly.graph_objects as go

    comp = tables.get("complexity", pd.DataFrame())
    measured, reported = accuracy_parts(tables.get("accuracy", pd.DataFrame()), comp)
    fig = go.Figure()
    if len(measured) and "gmacs" in measured:
        m = measured.dropna(subset=["gmacs", "accuracy"])
        text = (
            "measured: "
            + m["method"]
            + " ("
            + m["data_source"]
            + "; run "
            + m["source"].map(lambda s: Path(str(s)).name)
            + ")"
        )
        fig.add_trace(
            go.Scatter(
                x=m["gmacs"],
                y=m["accuracy"],
                mode="markers+text",
                text=m["method"],
                hovertext=text,
                name="measured here (synthetic data)",
                textposition="top center",
                marker=dict(size=10),
            )
        )
    if len(reported) and not comp.empty:
        ours = comp[comp.get("part", pd.Series("model", index=comp.index)).isin(["model", "recognition"])]
        r = reported.drop(columns=["gmacs"]).merge(ours[["model", "gmacs"]], on="model", how="inner")
        r = r.dropna(subset=["accuracy"]).drop_duplicates(["method", "source"])
        text = "reported: " + r["method"] + " (" + r["source"] + "; CASME II); x: our fvcore count of " + r["model"]
        fig.add_trace(
            go.Scatter(
                x=r["gmacs"],
                y=r["accuracy"],
                mode="markers",
                hovertext=text,
                name="reported by the papers, at our fvcore GMACs of that model",
                marker=dict(symbol="diamond-open", size=10),
            )
        )
    fig.update_layout(
        title="Accuracy vs GMACs (fvcore count of our implementation, per sample)",
        xaxis_title="GMACs (fvcore, our implementation)",
        yaxis_title="accuracy",
        xaxis_type="log",
        showlegend=True,
        legend=dict(orientation="h", y=-0.2),
        width=PAGE_WIDTH,
        height=520,
    )
    return fig


def batch_axis(fig: Any, batches: Any) -> None:
    """Batch size on a log axis, ticked at the batch sizes measured (never 1.5 or 2.5)."""
    ticks = sorted({int(b) for b in batches if b == b})
    fig.update_xaxes(
        type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], title_text="batch size", showticklabels=True
    )


def _fps_figure(speed: pd.DataFrame) -> Any:
    import plotly.express as px

    ok = speed[speed["status"] == "ok"].copy()
    ok["variant"] = variant_label(ok)
    fig = px.line(
        ok.sort_values("batch_size"),
        x="batch_size",
        y="fps",
        color="variant",
        facet_col="model",
        facet_col_wrap=3,
        markers=True,
        log_y=True,
        title="FPS vs batch size per backend (median over timed batches, measured)",
    )
    batch_axis(fig, ok["batch_size"])
    fig.update_layout(width=PAGE_WIDTH, height=420 * max(1, math.ceil(ok["model"].nunique() / 3)))
    return fig


def _roofline_figure(rl: pd.DataFrame, mm: pd.DataFrame) -> Any:
    """Achieved GFLOP/s per speed row; each precision's matmul rate a dashed line named in the legend (labels
    on the lines themselves printed over each other)."""
    import plotly.express as px
    import plotly.graph_objects as go

    rl = rl.copy()
    rl["variant"] = variant_label(rl)
    fig = px.scatter(
        rl,
        x="batch_size",
        y="achieved_gflops",
        color="variant",
        symbol="model",
        hover_data=["fps", "gmacs", "fraction_of_matmul"],
        title="Roofline: achieved GFLOP/s (2 x GMACs x FPS) vs the dense matmul rate (measured)",
    )
    above = rl[rl["fraction_of_matmul"] > 1.0]
    if len(above):
        fig.add_trace(
            go.Scatter(
                x=above["batch_size"],
                y=above["achieved_gflops"],
                mode="markers",
                marker=dict(symbol="circle-open", size=18, color="red", line=dict(width=2)),
                name="above 100 % of the measured matmul rate (see the roofline note)",
            )
        )
    batches = sorted(rl["batch_size"].unique())
    if not mm.empty and "gflops_median" in mm:
        ok = mm[mm.get("status", "ok") == "ok"] if "status" in mm else mm
        best = ok.dropna(subset=["gflops_median"]).groupby("precision")["gflops_median"].max()
        for dash, (precision, rate) in zip(("dash", "dot", "dashdot", "longdash"), best.items(), strict=False):
            fig.add_trace(
                go.Scatter(
                    x=[batches[0], batches[-1]] if len(batches) > 1 else [batches[0] * 0.8, batches[0] * 1.25],
                    y=[rate, rate],
                    mode="lines",
                    line=dict(dash=dash, color="black", width=1),
                    name=f"{precision} matmul {rate:,.0f} GFLOP/s (measured)",
                )
            )
    batch_axis(fig, rl["batch_size"])
    fig.update_yaxes(title_text="GFLOP/s", rangemode="tozero")
    fig.update_layout(width=PAGE_WIDTH, height=560, legend=dict(font=dict(size=11)))
    return fig


def _figures(tables: dict[str, pd.DataFrame]) -> list[tuple[str, Any]]:
    figs: list[tuple[str, Any]] = [("accuracy_vs_gmacs", _accuracy_figure(tables))]
    speed = tables.get("speed", pd.DataFrame())
    if not speed.empty and "fps" in speed and (speed["status"] == "ok").any():
        figs.append(("fps_vs_batch", _fps_figure(speed)))
    rl, mm = tables.get("roofline", pd.DataFrame()), tables.get("matmul", pd.DataFrame())
    if not rl.empty and "achieved_gflops" in rl:
        figs.append(("roofline", _roofline_figure(rl, mm)))
    return figs


STYLE = (
    "body{font-family:sans-serif;margin:1.5em auto;max-width:1260px;padding:0 10px;line-height:1.4}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
    "th{background:#f3f3f3}.scroll{max-width:1240px;overflow-x:auto;margin-bottom:1em}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}dt{font-weight:bold}"
)


NO_PLOTLY_NOTICE = (
    "<script>if(!window.Plotly){var n=document.createElement('p');n.style.cssText='background:#fee;padding:8px';"
    "n.textContent='The charts need plotly.min.js beside this page (python -m benchmarks report DIR writes it).';"
    "var h=document.getElementById('charts');if(h){h.after(n);}}</script>"
)


def html_report(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> str:
    """An interactive page: the summary tables, the charts, the host facts once, then the detail tables.

    plotly.js is read from ``plotly.min.js`` beside the page (written by :func:`write_outputs` and committed with
    each results folder, so the page reads offline); nothing is fetched from the network. Without that file the
    page says so where the charts would be.
    """
    import plotly.io as pio

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mer benchmark report</title>",
        f"<style>{STYLE}</style>",
        '<script src="plotly.min.js"></script></head><body><h1>mer benchmark report</h1>',
    ]
    blocks = sections(tables, meta)
    for heading, text, df, columns in blocks[:6]:
        parts += [f"<h2>{html.escape(heading)}</h2><p>{html.escape(text)}</p>", to_html(df, columns)]
    parts.append("<h2 id='charts'>Charts</h2>")
    parts += [pio.to_html(fig, include_plotlyjs=False, full_html=False) for _, fig in _figures(tables)]
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in _facts(meta))
    parts.append(f"<h2>Host and run</h2><dl>{facts}</dl>")
    for heading, text, df, columns in blocks[6:]:
        parts += [f"<h2>{html.escape(heading)}</h2><p>{html.escape(text)}</p>", to_html(df, columns)]
    parts.append(NO_PLOTLY_NOTICE + "</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- files
def write_outputs(out: str | Path, tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> list[Path]:
    """CSV per table, meta.json, report.md and report.html under ``out``; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        if name in tables and not (tables[name].empty and len(tables[name].columns) == 0):  # no section, no file
            path = out / f"{name}.csv"
            tables[name].to_csv(path, index=False)
            written.append(path)
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown_report(tables, meta))
    (out / "report.html").write_text(html_report(tables, meta))
    js, source = out / "plotly.min.js", plotly_js_path()
    if not js.is_file() or js.stat().st_size != source.stat().st_size:  # the page's own copy: it reads offline
        shutil.copyfile(source, js)
    return [*written, out / "meta.json", out / "report.md", out / "report.html", js]


def plotly_js_path() -> Path:
    """plotly.js as the installed plotly package ships it (~4.7 MB; git stores one blob for every identical copy)."""
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def read_outputs(out: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The tables and meta written by :func:`write_outputs` (missing or empty CSVs give empty tables)."""
    out = Path(out)
    tables = {}
    for name in TABLES:
        path = out / f"{name}.csv"
        try:
            tables[name] = pd.read_csv(path)
        except (FileNotFoundError, pd.errors.EmptyDataError):
            tables[name] = pd.DataFrame()
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return tables, meta
