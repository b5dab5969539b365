"""The benchmark suite: `python -m benchmarks run --quick` end to end, and the pieces its numbers rest on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from benchmarks import accuracy, report, roofline, speed

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["happiness", "disgust", "surprise", "repression", "others"]


def write_run(run: Path, seeds: tuple[int, ...] = (1, 2), synthetic: bool = True, hits: int = 7) -> Path:
    """A training-run folder as `mer train` leaves it: predictions.csv, config.json, metrics.json.

    Per seed: 4 subjects x 5 classes x 2 samples = 40 rows; the first ``hits`` of every 10 rows are right.
    """
    rows = []
    for seed in seeds:
        i = 0
        for fold, subject in enumerate(["sub01", "sub02", "sub03", "sub04"]):
            for c, label in enumerate(CLASSES):
                for k in range(2):
                    right = (i % 10) < hits - (seed - 1)
                    pred = label if right else CLASSES[(c + 1) % 5]
                    probs = np.full(5, 0.05)
                    probs[CLASSES.index(pred)] = 0.8
                    rows.append(
                        {
                            "fold": fold,
                            "seed": seed,
                            "subject": subject,
                            "sample": f"EP{c}_{k}",
                            "y_true": label,
                            "y_pred": pred,
                            **{f"prob_{n}": p for n, p in zip(CLASSES, probs, strict=True)},
                        }
                    )
                    i += 1
    run.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(run / "predictions.csv", index=False)
    source = {"dataset": "casme2", "synthetic": synthetic}
    (run / "config.json").write_text(
        json.dumps({"data": "/x", "train": {"model": "mer_dbfem_caffm", "protocol": "loso"}})
    )
    (run / "metrics.json").write_text(json.dumps({"data_source": source}))
    return run


@pytest.mark.slow
def test_quick_run_writes_every_table(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "run",
            "--device",
            "cpu",
            "--quick",
            "--out",
            str(out),
            "--runs",
            str(run),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("complexity", "speed", "matmul", "roofline", "accuracy", "e2e"):
        assert (out / f"{name}.csv").is_file(), name
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "plotly" in html.lower() and "Accuracy vs GMACs" in html and "Roofline" in html

    comp = pd.read_csv(out / "complexity.csv")
    assert "mer_dbfem_caffm" in set(comp["model"]) and (comp["gmacs"] > 0).all()

    spd = pd.read_csv(out / "speed.csv")
    assert {"eager", "onnxruntime"} <= set(spd["backend"]) and set(spd["batch_size"]) == {1, 4}
    onnx = spd[spd["backend"] == "onnxruntime"]
    assert (onnx["status"] == "ok").all(), onnx["status"].tolist()  # a failed export is a failure here
    for col in (
        "fps",
        "latency_ms_median",
        "latency_ms_p90",
        "max_abs_diff",
        "status",
        "cpu_model",
        "torch_threads",
        "torch_version",
        "onnxruntime_version",
    ):
        assert col in spd.columns, col
    eager = spd[(spd["backend"] == "eager") & (spd["precision"] == "fp32") & ~spd["channels_last"]]
    assert (eager["status"] == "ok").all() and (eager["fps"] > 0).all()
    assert (spd.loc[spd["status"] == "ok", "max_abs_diff"] <= spd.loc[spd["status"] == "ok", "tolerance"]).all()

    mm = pd.read_csv(out / "matmul.csv")
    assert mm.loc[mm["precision"] == "fp32", "gflops_median"].iloc[0] > 0
    rl = pd.read_csv(out / "roofline.csv")
    assert len(rl) == (spd["status"] == "ok").sum()
    assert np.allclose(rl["achieved_gflops"], 2 * rl["gmacs"] * rl["fps"])

    acc = pd.read_csv(out / "accuracy.csv")
    measured = acc[acc["kind"] == "measured"]
    assert len(measured) == 1 and measured["data_source"].iloc[0].startswith("synthetic")
    assert measured["seeds"].iloc[0] == 2 and measured["accuracy_std"].iloc[0] > 0
    reported = acc[acc["kind"] == "reported"]
    assert len(reported) >= 1 and np.isclose(reported["accuracy"], 0.7467, atol=1e-4).any()
    assert "## Accuracy reported by the papers" in md and "## Accuracy measured here" in md
    # summaries before the host facts, stated once; headings in words; no "None" cells; a page under 1,300 px
    assert md.index("## Complexity") < md.index("## Host and run") < md.index("## Speed, every variant")
    assert md.count(str(spd["cpu_model"].iloc[0])) == 1
    assert "complexity.csv" not in md and "None" not in md and "| nan" not in md
    assert "max-width:1260px" in html and '"width":1200' in html.replace(" ", "")
    assert "measured here (synthetic data)" in html and "at our fvcore GMACs of that model" in html

    rerender = subprocess.run(
        [sys.executable, "-m", "benchmarks", "report", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerender.returncode == 0, rerender.stderr[-2000:]
    again = (out / "report.md").read_text()  # re-rendered from the CSVs alone: the same rows
    assert again.count("| mer_dbfem_caffm ") == md.count("| mer_dbfem_caffm ") > 0
    assert (out / "plotly.min.js").stat().st_size > 1_000_000  # the page works offline

    e2e = pd.read_csv(out / "e2e.csv")
    assert (e2e["status"] == "ok").all() and {"align", "model", "total"} <= set(e2e["stage"])


def test_accuracy_rows_pool_over_folds_and_spread_over_seeds(tmp_path: Path) -> None:
    row = accuracy.run_row(write_run(tmp_path / "r", seeds=(1, 2, 3), synthetic=False))
    # seed s gets (8 - s)/10 right of every ten rows: 0.7, 0.6, 0.5
    assert row["accuracy"] == pytest.approx(0.6) and row["accuracy_std"] == pytest.approx(0.1)
    assert row["data_source"] == "casme2" and row["seeds"] == 3 and row["samples_per_seed"] == 40
    assert 0 < row["uf1"] <= 1 and row["uar"] == pytest.approx(row["macro_recall"])


def test_roofline_counts_two_flops_per_mac() -> None:
    spd = pd.DataFrame(
        [
            {
                "model": "m",
                "backend": "eager",
                "precision": "fp32",
                "channels_last": False,
                "batch_size": 8,
                "fps": 10.0,
                "status": "ok",
            },
            {
                "model": "m",
                "backend": "compile",
                "precision": "fp32",
                "channels_last": False,
                "batch_size": 8,
                "status": "failed: no compiler",
            },
        ]
    )
    comp = pd.DataFrame([{"model": "m", "gmacs": 5.0}])
    mm = pd.DataFrame([{"precision": "fp32", "gflops_median": 200.0, "status": "ok"}])
    rl = roofline.roofline_table(spd, comp, mm)
    assert len(rl) == 1  # the failed row has no rate
    assert rl["achieved_gflops"].iloc[0] == pytest.approx(100.0)
    assert rl["fraction_of_matmul"].iloc[0] == pytest.approx(0.5)


def _direct_gflops(n: int = 256, repeats: int = 20) -> float:
    import time

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def test_matmul_rate_is_positive_and_labelled() -> None:
    """The reported rate agrees with an independent timing of the same product within a factor of 10 (loose for a
    shared machine; a miscounted product, n^2 or 2 n^2, or a unit slip would be off by 100 or more). A busy
    machine can slow one timing and not the other, so the pair is taken up to three times."""
    policy = speed.TimingPolicy(warmup=1, min_repeats=3, max_repeats=3, min_seconds=0)
    pairs = []
    for _ in range(3):
        r = roofline.matmul_rate(torch.device("cpu"), "fp32", n=256, policy=policy)
        assert r["repeats"] == 3 and r["gflops_median"] > 0
        pairs.append((r["gflops_median"], _direct_gflops()))
        if pairs[-1][1] / 10 < pairs[-1][0] < pairs[-1][1] * 10:
            break
    else:
        raise AssertionError(f"reported vs direct GFLOP/s, three tries: {pairs}")


class AlwaysDropout(nn.Module):
    """Random output on every call, even in eval mode: no backend can match an earlier eager output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(self.conv(x).mean((2, 3)), p=0.5, training=True)


def test_output_check_marks_a_row_failed_instead_of_timing_it() -> None:
    onnx = speed.OnnxCache()
    try:
        row = speed.measure_variant(
            AlwaysDropout(),
            "dropout",
            torch.device("cpu"),
            speed.Variant("eager"),
            2,
            speed.TimingPolicy(warmup=0, min_repeats=1, min_seconds=0),
            onnx,
            input_size=(4, 16, 16),
        )
    finally:
        onnx.close()
    assert row["status"].startswith("failed: output differs") and "fps" not in row


def test_unknown_backend_is_a_row_status_not_a_crash() -> None:
    onnx = speed.OnnxCache()
    try:
        row = speed.measure_variant(
            nn.Conv2d(4, 5, 3),
            "conv",
            torch.device("cpu"),
            speed.Variant("tensorrt"),
            1,
            speed.TimingPolicy(warmup=0, min_repeats=1),
            onnx,
            input_size=(4, 8, 8),
        )
    finally:
        onnx.close()
    assert row["status"].startswith("failed: ValueError: unknown backend")


def test_timing_synchronises_around_every_timed_batch_and_keeps_each_duration(monkeypatch) -> None:
    """Each timed call is bracketed by a device synchronise, warm-up calls are not timed, and one slow batch
    shows up as one long time (the median ignores it; a mean would not)."""
    import time

    events: list[str] = []
    monkeypatch.setattr(speed, "synchronize", lambda device: events.append("sync"))
    sleeps = iter([0.0, 0.0, 0.06, 0.001, 0.001, 0.001, 0.001])  # two warm-up calls, then five timed

    def call() -> None:
        events.append("call")
        time.sleep(next(sleeps))

    times = speed.time_batches(
        call, torch.device("cpu"), speed.TimingPolicy(warmup=2, min_repeats=5, max_repeats=5, min_seconds=0)
    )
    assert events[:2] == ["call", "call"] and events[2:].count("call") == 5
    timed = events[3:]  # after the warm-up's closing synchronise: sync, call, sync per batch
    assert timed == ["sync", "call", "sync"] * 5
    assert len(times) == 5 and times[0] >= 0.06 and (times[1:] < 0.03).all()
    assert np.median(times) < 0.03


def test_targets_compare_best_with_eager_and_matmul() -> None:
    base = {"model": "mer_dbfem_caffm", "channels_last": False, "status": "ok"}
    spd = pd.DataFrame(
        [
            {**base, "backend": "eager", "precision": "fp32", "batch_size": 1, "fps": 10.0},
            {**base, "backend": "onnxruntime", "precision": "fp32", "batch_size": 1, "fps": 35.0},
            {**base, "backend": "eager", "precision": "fp32", "batch_size": 64, "fps": 20.0},
        ]
    )
    rl = roofline.roofline_table(
        spd,
        pd.DataFrame([{"model": "mer_dbfem_caffm", "gmacs": 5.0}]),
        pd.DataFrame([{"precision": "fp32", "gflops_median": 400.0, "status": "ok"}]),
    )
    t = report.performance_targets(spd, rl)
    first = t[t["target"].str.startswith("batch 1")].iloc[0]
    assert first["value"] == pytest.approx(3.5) and bool(first["met"])
    batched = t[t["target"].str.startswith("batched")].iloc[0]
    assert batched["value"] == pytest.approx(0.5) and batched["batch_size"] == 64


def test_bad_runs_folder_is_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "run",
            "--quick",
            "--out",
            str(tmp_path / "o"),
            "--runs",
            str(tmp_path / "missing"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_complexity_subcommand_dispatches_to_the_complexity_table() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "complexity", "--models", "mer_gfem"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "input shape: 1x4x282x231 " in proc.stdout and "mer_gfem" in proc.stdout
