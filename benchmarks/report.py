"""Write the benchmark outputs: one CSV per table, ``report.md`` with every table, ``report.html`` (plotly).

``python -m benchmarks report DIR`` re-renders report.md and report.html from the CSVs (and meta.json) in DIR.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly

TABLES = ("complexity", "speed", "matmul", "roofline", "accuracy", "e2e")
TARGET_MODEL = "mer_dbfem_caffm"
# columns shown in report.md (the CSVs keep everything, metadata included)
SPEED_SHOWN = [
    "model",
    "backend",
    "precision",
    "channels_last",
    "batch_size",
    "fps",
    "fps_at_p90",
    "latency_ms_median",
    "latency_ms_p90",
    "repeats",
    "setup_s",
    "max_abs_diff",
    "top1_agreement",
    "status",
    "load_avg_1m",
    "notes",
]
META_COLUMNS = [
    "cpu_model",
    "physical_cores",
    "logical_cpus",
    "torch_threads",
    "gpu_name",
    "gpu_driver",
    "torch_version",
    "cuda_version",
    "onnxruntime_version",
    "platform",
    "python",
]


def variant_label(df: pd.DataFrame) -> pd.Series:
    """``backend/precision[/channels_last]`` for each speed or roofline row."""
    cl = df["channels_last"].astype(str).str.lower().isin(("true", "1"))
    return df["backend"] + "/" + df["precision"] + np.where(cl, "/channels_last", "")


def performance_targets(
    speed: pd.DataFrame, roofline: pd.DataFrame, model: str = TARGET_MODEL
) -> pd.DataFrame:
    """The issue's two targets for ``model``, from this run's rows.

    1. best variant at batch 1 >= 3x eager fp32 (contiguous) at batch 1;
    2. best variant at the largest batch measured >= 50% of the matmul rate (its own precision's and fp32's).
    """
    rows: list[dict[str, Any]] = []
    if speed.empty or "fps" not in speed:
        return pd.DataFrame(rows)
    ok = speed[(speed["model"] == model) & (speed["status"] == "ok")].copy()
    if ok.empty:
        return pd.DataFrame(rows)
    ok["variant"] = variant_label(ok)
    one = ok[ok["batch_size"] == 1]
    base = one[one["variant"] == "eager/fp32"]
    if not one.empty and not base.empty:
        best = one.loc[one["fps"].idxmax()]
        best32 = one[one["precision"] == "fp32"].loc[lambda d: d["fps"].idxmax()]
        eager = float(base["fps"].iloc[0])
        for label, b in (("best variant", best), ("best fp32 variant", best32)):
            ratio = float(b["fps"]) / eager
            rows.append(
                {
                    "target": "batch 1: best >= 3x eager fp32",
                    "which": label,
                    "variant": b["variant"],
                    "batch_size": 1,
                    "fps": float(b["fps"]),
                    "reference": f"eager fp32 {eager:.2f} FPS",
                    "value": ratio,
                    "goal": 3.0,
                    "met": ratio >= 3.0,
                }
            )
    if not roofline.empty:
        rl = roofline[roofline["model"] == model].dropna(subset=["fraction_of_matmul"]).copy()
        if not rl.empty:
            rl["variant"] = variant_label(rl)
            top = rl[rl["batch_size"] == rl["batch_size"].max()]
            mm32 = rl.loc[rl["precision"] == "fp32", "matmul_gflops"]
            for label, sub in (
                ("best variant (own-precision matmul)", top),
                ("best fp32 variant", top[top["precision"] == "fp32"]),
            ):
                if sub.empty:
                    continue
                b = sub.loc[sub["fraction_of_matmul"].idxmax()]
                rows.append(
                    {
                        "target": "batched: best >= 50% of matmul rate",
                        "which": label,
                        "variant": b["variant"],
                        "batch_size": int(b["batch_size"]),
                        "fps": float(b["fps"]),
                        "reference": f"{b['precision']} matmul {b['matmul_gflops']:.1f} GFLOP/s, achieved "
                        f"{b['achieved_gflops']:.1f} GFLOP/s",
                        "value": float(b["fraction_of_matmul"]),
                        "goal": 0.5,
                        "met": float(b["fraction_of_matmul"]) >= 0.5,
                    }
                )
            if not mm32.empty:
                b = top.loc[top["achieved_gflops"].idxmax()]
                frac = float(b["achieved_gflops"]) / float(mm32.iloc[0])
                rows.append(
                    {
                        "target": "batched: best >= 50% of matmul rate",
                        "which": "fastest, vs fp32 matmul",
                        "variant": b["variant"],
                        "batch_size": int(b["batch_size"]),
                        "fps": float(b["fps"]),
                        "reference": f"fp32 matmul {float(mm32.iloc[0]):.1f} GFLOP/s",
                        "value": frac,
                        "goal": 0.5,
                        "met": frac >= 0.5,
                    }
                )
    return pd.DataFrame(rows)


def speed_summary(speed: pd.DataFrame) -> pd.DataFrame:
    """Per model and batch size: eager fp32 FPS, the fastest checked variant and its speed-up, paper FPS."""
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
                "speedup_vs_eager": float(best["fps"]) / e,
                "fastest_fp32_variant": best32["variant"],
                "fastest_fp32_fps": float(best32["fps"]),
                "fp32_speedup_vs_eager": float(best32["fps"]) / e,
                "paper_fps_table7": t7["fps"] if t7 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}"
    return value


def to_markdown(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A Markdown table (floats to 4 significant digits; empty for NaN); ``_(no rows)_`` when empty."""
    if df is None or df.empty:
        return "_(no rows)_"
    if columns:
        df = df[[c for c in columns if c in df.columns]]
    return df.map(_fmt).to_markdown(index=False)


def _meta_lines(meta: dict[str, Any]) -> list[str]:
    host = meta.get("host", {})
    lines = [f"- **{k}**: {host[k]}" for k in META_COLUMNS if host.get(k) not in (None, "")]
    for k in (
        "device",
        "command",
        "started",
        "duration_s",
        "quick",
        "timing",
        "load_note",
        "kept_from_earlier_run",
    ):
        if meta.get(k) not in (None, ""):
            lines.append(f"- **{k}**: {meta[k]}")
    return lines


def markdown_report(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> str:
    """All tables as one Markdown document, with conventions stated beside the numbers they govern."""
    t = {k: tables.get(k, pd.DataFrame()) for k in TABLES}
    acc = t["accuracy"]
    measured = acc[acc["kind"] == "measured"] if "kind" in acc else acc
    reported = acc[acc["kind"] == "reported"] if "kind" in acc else acc.iloc[0:0]
    targets = performance_targets(t["speed"], t["roofline"])
    out = [
        "# mer benchmark report",
        "",
        *_meta_lines(meta),
        "",
        "## Complexity (Tables 5 and 7)",
        "",
        "GMACs are fvcore counts: one multiply-add counts once (multiply-adds, not flops). Counted at "
        "batch 1 on the input shape shown; ops fvcore has no handler for count zero and are listed.",
        "",
        to_markdown(t["complexity"]),
        "",
        "## Speed",
        "",
        "Eval mode, `torch.inference_mode`, outputs checked against eager fp32 on the same batch before "
        "timing (row failed above tolerance), warm-up, device synchronised around each timed batch; "
        "FPS = batch / median seconds per batch, `fps_at_p90` = batch / p90 seconds. The variants of one "
        "model and batch size are timed interleaved (one batch of each per round), so a change in machine "
        "load hits them alike: compare them as ratios. `setup_s`: build + first call (export, compile). "
        "Host metadata for every row is in speed.csv.",
        "",
        "### Summary: eager fp32 and the fastest checked variant per model and batch size",
        "",
        "The paper's FPS (Table 7) was measured on hardware it does not name: context, not a target.",
        "",
        to_markdown(speed_summary(t["speed"])),
        "",
        "### All rows",
        "",
        to_markdown(t["speed"], SPEED_SHOWN),
        "",
        "## Roofline",
        "",
        "Convention: 1 multiply-add = 2 flops. Dense matmul rate: `torch.mm` of two n x n matrices, "
        "2 n^3 flops, "
        "median over repeats, measured in this run. A model's achieved rate = 2 x GMACs x FPS; each row is "
        "compared with the matmul rate of its own precision.",
        "",
        to_markdown(t["matmul"]),
        "",
        to_markdown(t["roofline"]),
        "",
        "## Performance targets",
        "",
        to_markdown(targets),
        "",
        "## Accuracy (Table 8; accuracy columns of Tables 5 and 7)",
        "",
        "### Measured here",
        "",
        "Pooled over all folds per seed (one confusion matrix), then mean and sample std over seeds; macro "
        "averages over the classes present; UF1 = macro F1, UAR = macro recall. The data source is on "
        "every row: "
        "a synthetic-data figure says nothing about CASME II.",
        "",
        to_markdown(measured.dropna(axis=1, how="all"))
        if len(measured)
        else "_(no training runs given: pass `--runs RUN ...`)_",
        "",
        "### Reported by the paper (not measured here)",
        "",
        to_markdown(reported.dropna(axis=1, how="all")),
        "",
        "## End to end (one clip through `mer.inference.Predictor`)",
        "",
        to_markdown(t["e2e"]),
        "",
    ]
    return "\n".join(out)


def _figures(tables: dict[str, pd.DataFrame]) -> list[tuple[str, Any]]:
    import plotly.express as px
    import plotly.graph_objects as go

    figs: list[tuple[str, Any]] = []
    comp, acc = tables.get("complexity", pd.DataFrame()), tables.get("accuracy", pd.DataFrame())
    fig = go.Figure()
    if not acc.empty and not comp.empty and "gmacs" in comp:
        measured = acc[acc["kind"] == "measured"].drop(columns=["gmacs"], errors="ignore")
        measured = measured.merge(comp[["model", "gmacs"]], on="model", how="inner")
        if len(measured):
            fig.add_trace(
                go.Scatter(
                    x=measured["gmacs"],
                    y=measured["accuracy"],
                    mode="markers+text",
                    text=measured["method"] + " (" + measured["data_source"] + ")",
                    error_y={"array": measured["accuracy_std"]},
                    name="measured",
                    textposition="top center",
                )
            )
    if not acc.empty and "gmacs" in acc:
        rep = acc[(acc["kind"] == "reported")].dropna(subset=["gmacs", "accuracy"])
        if len(rep):
            fig.add_trace(
                go.Scatter(
                    x=rep["gmacs"],
                    y=rep["accuracy"],
                    mode="markers+text",
                    text=rep["method"],
                    name="reported by the paper",
                    marker_symbol="diamond-open",
                    textposition="bottom center",
                )
            )
    fig.update_layout(
        title="Accuracy vs GMACs (fvcore multiply-adds per sample)",
        xaxis_title="GMACs",
        yaxis_title="accuracy",
    )
    figs.append(("accuracy_vs_gmacs", fig))

    speed = tables.get("speed", pd.DataFrame())
    if not speed.empty and "fps" in speed:
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
            log_x=True,
            log_y=True,
            title="FPS vs batch size per backend (median over timed batches)",
        )
        figs.append(("fps_vs_batch", fig))

    rl, mm = tables.get("roofline", pd.DataFrame()), tables.get("matmul", pd.DataFrame())
    if not rl.empty:
        rl = rl.copy()
        rl["variant"] = variant_label(rl)
        fig = px.scatter(
            rl,
            x="batch_size",
            y="achieved_gflops",
            color="variant",
            symbol="model",
            log_x=True,
            hover_data=["fps", "gmacs", "fraction_of_matmul"],
            title="Roofline: achieved GFLOP/s (2 x GMACs x FPS) vs the dense matmul rate",
        )
        if not mm.empty and "gflops_median" in mm:
            for _, m in mm.dropna(subset=["gflops_median"]).iterrows():
                fig.add_hline(
                    y=float(m["gflops_median"]),
                    line_dash="dash",
                    annotation_text=f"{m['precision']} matmul {m['gflops_median']:.0f} GFLOP/s",
                )
        figs.append(("roofline", fig))
    return figs


def html_report(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> str:
    """An interactive page: the three plots, then every table.

    plotly.js is read from ``plotly.min.js`` beside the page (written by :func:`write_outputs`, so the page
    works offline), else from plotly's CDN.
    """
    import plotly.io as pio
    from plotly.offline import get_plotlyjs_version

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mer benchmark report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body><h1>mer benchmark report</h1>",
        "<ul>" + "".join(f"<li>{line[2:]}</li>" for line in _meta_lines(meta)).replace("**", "") + "</ul>",
    ]
    for i, (_, fig) in enumerate(_figures(tables)):
        if i == 0:
            cdn = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
            parts.append(
                '<script src="plotly.min.js"></script><script>window.Plotly || '
                f"document.write('<script src=\"{cdn}\"><\\/script>')</script>"
            )
        parts.append(pio.to_html(fig, include_plotlyjs=False, full_html=False))
    targets = performance_targets(tables.get("speed", pd.DataFrame()), tables.get("roofline", pd.DataFrame()))
    for name, df in [*((k, tables.get(k, pd.DataFrame())) for k in TABLES), ("targets", targets)]:
        parts.append(f"<h2>{name}</h2>")
        if name == "accuracy" and "kind" in df:
            for kind in ("measured", "reported"):
                parts.append(f"<h3>{kind}</h3>" + df[df["kind"] == kind].to_html(index=False, na_rep=""))
        else:
            parts.append(df.to_html(index=False, na_rep="") if not df.empty else "<p>(no rows)</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_outputs(out: str | Path, tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> list[Path]:
    """CSV per table, meta.json, report.md and report.html under ``out``; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        if name in tables:
            path = out / f"{name}.csv"
            tables[name].to_csv(path, index=False)
            written.append(path)
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown_report(tables, meta))
    (out / "report.html").write_text(html_report(tables, meta))
    js = out / "plotly.min.js"
    if not js.is_file():  # the page's offline copy of plotly.js (4.8 MB; the page falls back to the CDN)
        shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", js)
    return [*written, out / "meta.json", out / "report.md", out / "report.html"]


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
