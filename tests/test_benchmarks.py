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
    long = e2e[e2e["peak_rss_mb"].notna()]  # --quick: one 10 s long video, in a fresh process, with its memory
    assert len(long) == 1 and long["clip"].iloc[0].startswith("300 frames") and long["peak_rss_mb"].iloc[0] > 0


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


# ---------------------------------------------------------------------------------------------- GPU code paths
def test_cuda_only_variants_are_selected_for_a_gpu_and_dropped_on_a_cpu(monkeypatch) -> None:
    """The selection logic of the CUDA-only branches (tf32, CUDA graphs), exercised without a GPU."""
    monkeypatch.setattr(speed, "gpu_has_tf32", lambda device: True)
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: False)
    cuda = {v.name for v in speed.variants_for(torch.device("cuda", 0), ["eager", "cudagraphs", "onnxruntime"])}
    assert {"eager/fp32", "eager/tf32", "eager/fp16/channels_last", "eager/bf16/channels_last"} <= cuda
    assert {"cudagraphs/fp32", "cudagraphs/tf32", "cudagraphs/bf16/channels_last", "onnxruntime/fp32"} <= cuda
    assert "eager/tf32/channels_last" not in cuda  # tf32 rows keep the default layout
    cpu = {v.name for v in speed.variants_for(torch.device("cpu"), ["eager", "cudagraphs", "onnxruntime"])}
    assert cpu == {"eager/fp32", "eager/fp32/channels_last", "onnxruntime/fp32"}
    assert speed.reduced_precisions(torch.device("cpu"), ["tf32", "bf16"]) == ["bf16"]
    monkeypatch.setattr(speed, "gpu_has_tf32", lambda device: False)  # a pre-Ampere GPU: no tf32 rows
    assert speed.reduced_precisions(torch.device("cuda", 0)) == ["fp16", "bf16"]


def test_tf32_mode_restores_the_flags_and_is_refused_on_a_cpu() -> None:
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with speed.tf32_mode(True):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    with pytest.raises(ValueError, match="CUDA"):
        speed.precision_context(torch.device("cpu"), "tf32")
    assert np.isnan(speed.peak_memory_mb(torch.device("cpu")))  # not counted on a CPU, never a fake 0


def test_cudagraphs_and_ort_cuda_rows_say_why_they_cannot_run_here() -> None:
    model = nn.Sequential(nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()
    x = torch.randn(1, 4, 8, 8)
    with pytest.raises(ValueError, match="CUDA"):
        speed._cudagraphs(model, torch.device("cpu"), speed.Variant("cudagraphs"), x)
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
            speed.ort_provider_check(torch.device("cuda", 0))
    speed.ort_provider_check(torch.device("cpu"))  # always available


def _plan(**kw):
    from benchmarks.run import Plan

    base = dict(
        device=torch.device("cpu"), models=["m"], matrix_models=["m"], batch_sizes=[1, 8],
        backends=["eager", "compile"], channels_last=False, half=[], policy=None, matmul_n=64, e2e_runs=1,
        e2e_frames=10,
    )  # fmt: skip
    return Plan(**{**base, **kw})


def test_compiled_backends_only_at_their_batch_sizes_and_within_budget() -> None:
    from benchmarks.run import over_budget, plan_variants

    plan = _plan(compile_batch_sizes=[8], compile_budget_s=10.0)
    assert [v.backend for v in plan_variants(plan, "m", 1)] == ["eager"]
    assert [v.backend for v in plan_variants(plan, "m", 8)] == ["eager", "compile"]
    keep, skipped = over_budget(plan, plan_variants(plan, "m", 8), elapsed_s=5.0)
    assert [v.backend for v in keep] == ["eager", "compile"] and skipped == []
    keep, skipped = over_budget(plan, plan_variants(plan, "m", 8), elapsed_s=11.0)
    assert [v.backend for v in keep] == ["eager"] and [v.backend for v in skipped] == ["compile"]


def test_training_throughput_rows_on_a_cpu() -> None:
    from benchmarks.training import training_precisions, training_table

    def create(name):
        net = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
        return net.eval(), (4, 16, 16)

    policy = speed.TimingPolicy(warmup=1, min_repeats=3, max_repeats=3, min_seconds=0.0)
    t = training_table(["tiny"], torch.device("cpu"), [2, 4], None, policy, create)
    assert list(t["status"]) == ["ok", "ok"] and list(t["batch_size"]) == [2, 4]
    assert (t["samples_per_s"] > 0).all() and (t["steps"] == 3).all() and t["peak_mem_mb"].isna().all()
    assert np.allclose(t["samples_per_s"], t["batch_size"] / (t["step_ms_median"] / 1e3))
    assert training_precisions(torch.device("cuda", 0)) == ["fp32", "amp_bf16"]
    assert training_precisions(torch.device("cpu"), ["fp32", "amp_fp16"]) == ["fp32"]  # fp16 training: CUDA only
    with pytest.raises(ValueError, match="choose from"):
        training_precisions(torch.device("cpu"), ["int8"])


def test_gpu_plan_covers_the_matrix_and_stages_keep_each_others_results() -> None:
    from benchmarks import gpu

    main = gpu.stage_argv("main", "cuda:0", Path("o"))
    for flag in ("cudagraphs", "compile", "onnxruntime", "256", "--compile-budget-s", "--training-batch-sizes"):
        assert flag in main, flag
    assert main[main.index("--matmul-n") + 1] == "8192"
    assert "e2e" in main[main.index("--skip") :]  # its own stage, so a time-out there loses nothing else
    e2e = gpu.stage_argv("e2e", "cuda:0", Path("o"))
    assert set(e2e[e2e.index("--skip") + 1 :]) == {"complexity", "speed", "training", "accuracy", "realfaces"}
    script = (ROOT / "benchmarks" / "gpu.sh").read_text()
    assert "--stage main" in script and "--stage e2e" in script and "--stage summary" in script
    limits = [int(w) for line in script.splitlines() if line.startswith("timeout") for w in line.split()[3:4]]
    assert sum(limits) <= 8 * 60, limits  # the stages' limits fit the 8-minute promise


@pytest.mark.slow
def test_gpu_entry_runs_its_code_paths_on_a_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "gpu", "--device", "cpu", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    spd = pd.read_csv(out / "speed.csv")
    assert set(spd["backend"]) == {"eager"} and "cudagraphs" not in set(spd["backend"])  # dropped on a CPU
    assert "peak_mem_mb" in spd and spd["peak_mem_mb"].isna().all()
    tr = pd.read_csv(out / "training.csv")
    assert (tr["status"] == "ok").all() and (tr["samples_per_s"] > 0).all()
    summary = (out / "gpu_summary.md").read_text()
    assert "Steady-run check" in summary and "measured matmul peak" in summary and "97.3" in summary
    html = (out / "report.html").read_text()
    assert "Training throughput" in html and (out / "plotly.min.js").is_file()


# ---------------------------------------------------------------------------------------------- the report
def _speed_rows(load: float = 0.1) -> pd.DataFrame:
    base = {"model": "mer_dbfem_caffm", "status": "ok", "logical_cpus": 2, "load_avg_1m": load, "device": "cpu"}
    rows = []
    for bs, f in ((1, 10.0), (2, 15.0), (4, 18.0)):
        rows.append({**base, "backend": "eager", "precision": "fp32", "channels_last": False, "batch_size": bs,
                     "fps": f, "latency_ms_median": 100.0, "latency_ms_p90": 105.0})  # fmt: skip
        rows.append({**base, "backend": "onnxruntime", "precision": "fp32", "channels_last": False, "batch_size": bs,
                     "fps": 3 * f, "latency_ms_median": 33.0, "latency_ms_p90": 35.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_speed_ups_are_printed_only_from_steady_runs() -> None:
    matmul = pd.DataFrame(
        [{"run_pass": p, "precision": "fp32", "gflops_median": 100.0, "status": "ok"} for p in ("before", "after")]
    )
    steady, _ = report.steadiness(_speed_rows(0.1), matmul=matmul)
    assert steady
    assert report.speed_summary(_speed_rows(), True)["speedup_vs_eager"].tolist() == pytest.approx([3, 3, 3])
    busy, why = report.steadiness(_speed_rows(1.8), matmul=matmul)
    assert not busy and "load" in why
    s = report.speed_summary(_speed_rows(1.8), busy)
    assert s["speedup_vs_eager"].isna().all() and s["speedup_note"].str.contains("not steady").all()
    drifted = matmul.assign(gflops_median=[100.0, 70.0])  # the machine changed under the speed section
    ok, why = report.steadiness(_speed_rows(0.1), matmul=drifted)
    assert not ok and "matmul rate changed 30 %" in why
    md = report.markdown_report({"speed": _speed_rows(1.8), "matmul": matmul}, {})
    summary = md.split("## Speed summary")[1].split("##")[0]
    assert "not shown: run not steady" in summary and "| 3 " not in summary


def test_report_reads_offline_with_readable_charts(tmp_path: Path) -> None:
    spd = _speed_rows()
    comp = pd.DataFrame([{"model": "mer_dbfem_caffm", "gmacs": 5.0}])
    matmul = pd.DataFrame(
        [{"run_pass": p, "precision": "fp32", "gflops_median": 250.0, "status": "ok"} for p in ("before", "after")]
    )
    rl = roofline.roofline_table(spd, comp, matmul)  # onnxruntime at batch 4: 2 x 5 x 54 = 540 > 250
    assert (rl["fraction_of_matmul"] > 1).any()
    assert rl.loc[rl["fraction_of_matmul"] > 1, "note"].str.startswith("ABOVE").all()
    assert (rl.loc[rl["fraction_of_matmul"] <= 1, "note"] == "").all()
    tables = {"speed": spd, "complexity": comp, "matmul": matmul, "roofline": rl}
    paths = report.write_outputs(tmp_path, tables, {"device": "cpu"})
    html = (tmp_path / "report.html").read_text()
    assert "cdn.plot.ly" not in html and "https://" not in html.split("<body>")[0]  # nothing from the network
    assert '<script src="plotly.min.js">' in html and tmp_path / "plotly.min.js" in paths
    assert (tmp_path / "plotly.min.js").read_bytes() == report.plotly_js_path().read_bytes()
    figs = dict(report._figures(tables))
    for name in ("fps_vs_batch", "roofline"):
        axis = figs[name].layout.xaxis
        assert axis.type == "log" and list(axis.tickvals) == [1, 2, 4], name  # no 1.5 or 2.5 ticks
    roof = figs["roofline"]
    assert not roof.layout.annotations  # peaks are named in the legend, not printed over each other
    names = [t.name for t in roof.data]
    assert any(n.startswith("fp32 matmul 250") for n in names) and any("above 100 %" in n for n in names)
    t = report.performance_targets(spd, rl, matmul=matmul)
    batched = t[t["target"].str.startswith("batched")]
    assert batched.loc[batched["value"] > 1, "note"].str.contains("above 100 %").all()
    assert (t.loc[t["target"].str.startswith("batch 1"), "note"] == "").all()  # a speed-up ratio is not a fraction


# ---------------------------------------------------------------------------------------------- Table 8
def test_table8_schedules_choose_on_training_subjects_and_state_themselves() -> None:
    from benchmarks import table8

    for model in ("mer_dbfem_caffm", "mer_fr", "mer_mol"):
        cfg = table8.schedule("quick", model)
        assert cfg.val_subjects >= 1 and cfg.patience >= 1  # the test subject never chooses the epoch
        text = table8.describe_schedule(cfg)
        assert f"up to {cfg.epochs} epochs" in text and "training subject" in text
    assert table8.schedule("quick", "mer_mol").optimizer == "adamw"
    paper = table8.schedule("paper", "mer_dbfem_caffm")
    assert paper.epochs == 500 and paper.val_subjects == 0
    assert "500 epochs, last epoch tested" in table8.describe_schedule(paper)
    assert table8.schedule("quick", "mer_fr", {"epochs": 3}).epochs == 3
    with pytest.raises(Exception, match="preset"):
        table8.schedule("fast", "mer_fr")


def test_table8_convergence_rule() -> None:
    from benchmarks import table8

    cfg = table8.schedule("quick", "mer_fr")
    fold = {"fold": "fold00", "epochs_run": 12, "selected_epoch": 6, "stopped_early": True, "val_score": 0.8,
            "last_train_accuracy": 0.95}  # fmt: skip
    assert table8.convergence(cfg, [fold, {**fold, "fold": "fold01"}]).startswith("yes (2/2")
    ok = {**fold}
    low = {**fold, "fold": "fold01", "last_train_accuracy": 0.4}
    still = {**fold, "fold": "fold02", "stopped_early": False, "epochs_run": cfg.epochs, "selected_epoch": cfg.epochs}
    perfect = {**still, "fold": "fold03", "val_score": 1.0}  # cannot improve on a perfect validation score
    assert table8.convergence(cfg, [ok, perfect]).startswith("yes (2/2")
    text = table8.convergence(cfg, [ok, low, still])
    assert text.startswith("NO (1/3") and "fold01: train acc 0.4" in text and "fold02: validation still" in text
    assert table8.convergence(table8.schedule("quick", "lbptop_svm"), []).startswith("n/a")


def test_table8_view_prints_the_papers_columns_first() -> None:
    from benchmarks import table8

    row = {"method": "mer_fr", "accuracy": 0.7, "accuracy_std": 0.0, "macro_precision": 0.71, "macro_recall": 0.7,
           "uf1": 0.69, "uar": 0.7, "seeds": 1, "converged": "yes (4/4 folds)", "schedule": "s"}  # fmt: skip
    view = table8.table_view(pd.DataFrame([row, {**row, "method": "x", "accuracy_std": 0.05}]))
    assert list(view.columns[:6]) == ["method", "accuracy", "macro precision", "macro recall", "UF1", "UAR"]
    assert view["accuracy"].tolist() == ["0.700", "0.700 ± 0.050"] and "None" not in view.to_string()


@pytest.mark.slow
def test_accuracy_command_trains_through_the_grid_and_resumes(tmp_path: Path) -> None:
    """`python -m benchmarks accuracy` on a small SYNTHETIC cache (3 subjects x 1 sample per class, DIS flow)."""
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}

    def run(*argv: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", *argv]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)

    synth = run("mer", "synth", "--out", str(tmp_path / "s"), "--subjects", "3", "--per-class", "1", "--frames", "24")
    assert synth.returncode == 0, synth.stderr[-2000:]
    prep = run("mer", "preprocess", "--dataset", "casme2", "--root", str(tmp_path / "s"), "--out",
               str(tmp_path / "c"), "--flow", "dis", "--workers", "1")  # fmt: skip
    assert prep.returncode == 0, prep.stderr[-2000:]
    argv = ["benchmarks", "accuracy", "--data", str(tmp_path / "c"), "--models", "mer_fr", "--preset", "quick",
            "--device", "cpu", "--out", str(tmp_path / "t8"), "--set", "epochs=2", "patience=1"]  # fmt: skip
    first = run(*argv)
    assert first.returncode in (0, 1), first.stderr[-3000:]
    table = pd.read_csv(tmp_path / "t8" / "table8.csv")
    (row,) = table.to_dict("records")
    assert row["model"] == "mer_fr" and row["status"] == "done" and row["samples_per_seed"] == 15
    for key in ("accuracy", "macro_precision", "macro_recall", "uf1", "uar"):
        assert 0 <= row[key] <= 1, key
    assert "up to 2 epochs" in row["schedule"] and row["converged"].startswith(("yes", "NO"))
    assert row["data_source"].startswith("SYNTHETIC") and row["paper_accuracy"] == pytest.approx(0.6285)
    plan = json.loads((tmp_path / "t8" / "grids" / "mer_fr" / "mer_fr" / "run.json").read_text())
    for fold in plan["folds"]:  # the validation subject comes from the training subjects, never the test one
        assert fold["val_subjects"] and not set(fold["val_subjects"]) & set(fold["test_subjects"])
    md = (tmp_path / "t8" / "table8.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| method"))
    assert [c.strip() for c in header.split("|")[2:7]] == ["accuracy", "macro precision", "macro recall", "UF1", "UAR"]
    again = run(*argv)  # resumable: every job is done, nothing trains again
    assert "0 failed and 0 missing" in again.stdout, again.stdout[-2000:]


def test_a_chain_of_skip_runs_keeps_where_each_kept_section_was_measured():
    from benchmarks import report
    from benchmarks.run import kept_provenance

    first = {"started": "day 1", "command": "run A", "kept_from_earlier_run": None}  # measured everything
    second = {
        "started": "day 2",
        "command": "run B --skip e2e",
        "kept_from_earlier_run": kept_provenance(["e2e"], first),
    }
    third = kept_provenance(["e2e", "speed"], second)  # run C --skip e2e speed: speed from B, e2e still from A
    assert third["sections"] == ["speed"] and third["command"] == "run B --skip e2e"
    assert third["earlier"]["sections"] == ["e2e"] and third["earlier"]["command"] == "run A"
    facts = [value for label, value in report._facts({"kept_from_earlier_run": third}) if label.startswith("kept")]
    assert facts == ["speed (started day 2: run B --skip e2e)", "e2e (started day 1: run A)"]
