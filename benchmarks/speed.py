"""Speed: frames per second of each model per backend, precision, memory format and batch size.

Every row is measured the same way: the model in eval mode under ``torch.inference_mode``, its output checked
against eager fp32 PyTorch on the same batch (max abs diff, top-1 agreement), a warm-up, then timed batches
with the device synchronised before and after each one; FPS = batch / median seconds per batch, with the p90
latency beside it. A backend that fails on this machine (``torch.compile`` without a compiler, an ONNX
export error) gives a row whose ``status`` says why, never a crash.

Backends:
  eager        PyTorch as is (contiguous or channels_last; fp32, or bf16/fp16 autocast)
  compile      ``torch.compile`` (inductor; on CPU with ``freezing=True``: weights folded, oneDNN prepacked)
  cudagraphs   ``torch.compile(mode="reduce-overhead")``: inductor plus CUDA graphs (CUDA only; dropped on a CPU)
  jit_freeze   ``torch.jit.trace`` + ``freeze`` + ``optimize_for_inference`` (oneDNN fusion on CPU)
  onnxruntime  ``torch.onnx.export``, then an ONNX Runtime session: graph optimisation level ALL,
               intra-op threads = physical cores; CUDA EP where the installed onnxruntime has it
               (inputs and outputs then copied through host memory)

Precisions: fp32; on CUDA also tf32 (fp32 tensors, TensorFloat-32 matmuls and convolutions: Ampere and newer),
fp16 and bf16 autocast; on a CPU bf16 where it runs natively. On CUDA each row also records the peak GPU memory
(torch's allocator) of building the variant and running its first batch.
"""

from __future__ import annotations

import contextlib
import copy
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mer.engine.device import autocast

BACKENDS = ("eager", "compile", "cudagraphs", "jit_freeze", "onnxruntime")
DEFAULT_BACKENDS = ("eager", "compile", "onnxruntime")  # jit_freeze: on request (slower than these on CPU)
CUDA_ONLY_BACKENDS = ("cudagraphs",)
COMPILED_BACKENDS = ("compile", "cudagraphs")  # compiled once per batch size: the slow part of a GPU run
# max |out - eager fp32| allowed: atol + rtol * max|eager fp32 logits|
TOLERANCE = {"fp32": (1e-3, 1e-3), "tf32": (0.05, 0.02), "bf16": (0.1, 0.05), "fp16": (0.05, 0.02)}
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TimingPolicy:
    """How many batches to time: at least ``min_repeats``, more until ``min_seconds`` of timed work or
    ``max_repeats``; ``warmup`` untimed batches first (compiled backends get their compilation done in the
    check)."""

    warmup: int = 3
    min_repeats: int = 5
    max_repeats: int = 50
    min_seconds: float = 2.0


@dataclass
class Variant:
    """One way of running a model: backend, precision, memory format."""

    backend: str
    precision: str = "fp32"
    channels_last: bool = False

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.precision}" + ("/channels_last" if self.channels_last else "")


@dataclass
class Runner:
    """A ready-to-time callable: ``fn(x)`` runs one batch and returns the logits as a CPU float32 tensor."""

    fn: Callable[[torch.Tensor], torch.Tensor]
    notes: list[str] = field(default_factory=list)
    cleanup: Callable[[], None] = lambda: None


# ---------------------------------------------------------------------------------------------- metadata


def physical_cores() -> int:
    """Physical cores from /proc/cpuinfo (distinct (physical id, core id) pairs), else ``os.cpu_count()``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        pairs = set(re.findall(r"physical id\s*:\s*(\d+)[\s\S]*?core id\s*:\s*(\d+)", text))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else ``platform.processor()``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _nvidia_driver() -> str:
    if shutil.which("nvidia-smi") is None:
        return ""
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    return ""


def host_metadata(device: torch.device) -> dict[str, Any]:
    """Host and device facts stored with every row: CPU, threads, GPU, driver, library versions, load."""
    try:
        import onnxruntime as ort

        ort_version = ort.__version__
    except ImportError:
        ort_version = "not installed"
    cuda = device.type == "cuda"
    meta = {
        "cpu_model": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cpus": os.cpu_count() or 1,
        "torch_threads": torch.get_num_threads(),
        "gpu_name": torch.cuda.get_device_name(device) if cuda else "",
        "gpu_driver": _nvidia_driver() if cuda else "",
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda or "",
        "onnxruntime_version": ort_version,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    return meta


def load_average() -> float:
    """1-minute load average (how busy the machine was when a row was measured); NaN where unknown."""
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return float("nan")


def device_slug(device: torch.device) -> str:
    """A folder name for this device, e.g. ``cpu-intel-r-xeon-r-processor`` or ``cuda-nvidia-h100``."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return f"{device.type}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ---------------------------------------------------------------------------------------------- timing


def synchronize(device: torch.device) -> None:
    """Wait for queued device work (CUDA kernels run asynchronously; CPU work is already done)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_batches(fn: Callable[[], Any], device: torch.device, policy: TimingPolicy) -> np.ndarray:
    """Seconds per call of ``fn`` after ``policy.warmup`` untimed calls, synchronising around each call."""
    for _ in range(policy.warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    while len(times) < policy.max_repeats and (len(times) < policy.min_repeats or sum(times) < policy.min_seconds):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def example_batch(batch_size: int, input_size: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """A normalised-looking input batch (B, C, H, W): N(0, 1) modality channels, a 0/1 last (mask) channel."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *input_size), generator=g)
    if input_size[0] == 4:
        x[:, 3] = (torch.rand(batch_size, *input_size[1:], generator=g) > 0.5).float()
    return x


# ---------------------------------------------------------------------------------------------- backends


@contextlib.contextmanager
def tf32_mode(enabled: bool):
    """TensorFloat-32 for CUDA matmuls and cuDNN convolutions while inside (restored after)."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def precision_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context a batch runs in: autocast for fp16/bf16; tf32 on (CUDA) or off for fp32 and tf32 rows."""
    if precision == "tf32":
        if device.type != "cuda":
            raise ValueError("tf32 is a CUDA mode (Ampere and newer GPUs); not on a CPU")
        return tf32_mode(True)
    stack = contextlib.ExitStack()
    stack.enter_context(autocast(device, precision))
    if device.type == "cuda":
        stack.enter_context(tf32_mode(False))  # fp32 rows are true fp32 whatever the process default
    return stack


def _torch_runner(
    module: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    variant: Variant,
    notes: list[str] | None = None,
    before_call: Callable[[], None] = lambda: None,
) -> Runner:
    fmt = torch.channels_last if variant.channels_last else torch.contiguous_format

    def fn(x: torch.Tensor) -> torch.Tensor:
        before_call()
        with torch.inference_mode(), precision_context(device, variant.precision):
            out = module(x.to(device, memory_format=fmt))
        return out.float().clone()  # a copy: CUDA graphs reuse their output buffer on the next call

    return Runner(fn, notes or [])


def _eager(model: torch.nn.Module, device: torch.device, variant: Variant, x: torch.Tensor) -> Runner:
    return _torch_runner(model, device, variant)


def _compile(model: torch.nn.Module, device: torch.device, variant: Variant, x: torch.Tensor) -> Runner:
    import torch._dynamo
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()
    compiled = torch.compile(model, dynamic=False)
    runner = _torch_runner(compiled, device, variant)
    # freezing folds weights into constants so inductor can prepack them for oneDNN (CPU inference)
    patch = inductor_config.patch(freezing=True) if device.type == "cpu" else contextlib.nullcontext()
    with patch:
        runner.fn(x)  # compiles here; a failure propagates and becomes the row's status
    runner.notes.append("inductor, freezing=True" if device.type == "cpu" else "inductor")
    return runner


def _cudagraphs(model: torch.nn.Module, device: torch.device, variant: Variant, x: torch.Tensor) -> Runner:
    """inductor with CUDA graphs (``mode="reduce-overhead"``): one graph replay per batch, no launch overhead."""
    import torch._dynamo

    if device.type != "cuda":
        raise ValueError("CUDA graphs need a CUDA device")
    torch._dynamo.reset()
    compiled = torch.compile(model, mode="reduce-overhead", dynamic=False)
    runner = _torch_runner(compiled, device, variant, before_call=torch.compiler.cudagraph_mark_step_begin)
    for _ in range(3):  # compile, record the graph, replay: failures surface here as the row's status
        runner.fn(x)
    runner.notes.append("inductor, mode=reduce-overhead (CUDA graphs)")
    return runner


def _jit_freeze(model: torch.nn.Module, device: torch.device, variant: Variant, x: torch.Tensor) -> Runner:
    fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
    with warnings.catch_warnings(), torch.no_grad(), precision_context(device, variant.precision):
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream; still the oneDNN fusion path here
        traced = torch.jit.trace(model, x.to(device, memory_format=fmt), check_trace=False)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    return _torch_runner(frozen, device, variant, ["trace+freeze+optimize_for_inference"])


def export_onnx(model: torch.nn.Module, x: torch.Tensor, path: Path) -> str:
    """Export ``model`` to ONNX with a dynamic batch axis; returns which exporter worked."""
    model = copy.deepcopy(model).float().to("cpu", memory_format=torch.contiguous_format)
    x = x.float().cpu()
    errors = []
    for dynamo in (True, False):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(None):
                warnings.simplefilter("ignore")
                if dynamo:
                    torch.onnx.export(
                        model,
                        (x,),
                        str(path),
                        input_names=["input"],
                        output_names=["logits"],
                        dynamic_shapes=({0: torch.export.Dim("batch")},),
                        dynamo=True,
                        verbose=False,
                    )
                else:
                    torch.onnx.export(
                        model,
                        (x,),
                        str(path),
                        input_names=["input"],
                        output_names=["logits"],
                        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                        dynamo=False,
                        opset_version=17,
                    )
            return "dynamo" if dynamo else "torchscript"
        except Exception as err:  # noqa: BLE001 - try the other exporter, report both if neither works
            errors.append(f"{'dynamo' if dynamo else 'torchscript'} exporter: {_reason(err)}")
    raise RuntimeError("; ".join(errors))


class OnnxCache:
    """One ONNX export per model (dynamic batch), reused across batch sizes; files live in a temp dir."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mer-bench-onnx-")
        self._paths: dict[str, tuple[Path, str] | Exception] = {}

    def get(self, name: str, model: torch.nn.Module, x: torch.Tensor) -> tuple[Path, str]:
        if name not in self._paths:
            path = Path(self._dir.name) / f"{name}.onnx"
            try:
                self._paths[name] = (
                    path,
                    export_onnx(model, x[:1].expand(2, *x.shape[1:]).contiguous(), path),
                )
            except Exception as err:  # noqa: BLE001 - remembered so every batch size reports the same reason
                self._paths[name] = err
        found = self._paths[name]
        if isinstance(found, Exception):
            raise found
        return found

    def close(self) -> None:
        self._dir.cleanup()


def ort_provider_check(device: torch.device) -> None:
    """Raise, with what to install, when ONNX Runtime cannot run on ``device`` here."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.type == "cuda" and "CUDAExecutionProvider" not in available:
        raise RuntimeError(
            f"this onnxruntime has no CUDAExecutionProvider (has {available}); install onnxruntime-gpu for CUDA rows"
        )


def _onnxruntime(
    model: torch.nn.Module,
    device: torch.device,
    variant: Variant,
    x: torch.Tensor,
    onnx_path: Path,
    exporter: str,
) -> Runner:
    import onnxruntime as ort

    if variant.precision != "fp32" or variant.channels_last:
        raise ValueError("onnxruntime rows are fp32 with ONNX Runtime's own layout")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = physical_cores()
    opts.log_severity_level = 3
    available = ort.get_available_providers()
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(
                f"this onnxruntime has no CUDAExecutionProvider (has {available}); "
                "install onnxruntime-gpu for CUDA rows"
            )
        providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
    session = ort.InferenceSession(str(onnx_path), opts, providers=providers)
    used = session.get_providers()[0]

    def fn(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"input": batch.cpu().numpy()})[0])

    notes = [f"{used}, opt level ALL, intra-op threads {opts.intra_op_num_threads}, {exporter} exporter"]
    if device.type == "cuda":
        notes.append("input/output copied through host memory each batch")
    return Runner(fn, notes)


def make_runner(
    model: torch.nn.Module,
    device: torch.device,
    variant: Variant,
    x: torch.Tensor,
    name: str,
    onnx: OnnxCache,
) -> Runner:
    """Build the callable for ``variant``; raises with a reason when the backend cannot run here."""
    if variant.precision != "fp32" and variant.backend == "onnxruntime":
        raise ValueError("fp32 only")
    if variant.backend not in BACKENDS:
        raise ValueError(f"unknown backend {variant.backend!r}; choose from {', '.join(BACKENDS)}")
    fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
    # every variant gets its own copy: variants are timed interleaved, and layouts must not leak between them
    model = copy.deepcopy(model).to(device, memory_format=fmt).eval()
    if variant.backend == "eager":
        return _eager(model, device, variant, x)
    if variant.backend == "compile":
        return _compile(model, device, variant, x)
    if variant.backend == "cudagraphs":
        return _cudagraphs(model, device, variant, x)
    if variant.backend == "jit_freeze":
        return _jit_freeze(model, device, variant, x)
    if variant.backend == "onnxruntime":
        ort_provider_check(device)  # before the export, which takes a while
        path, exporter = onnx.get(name, model, x)
        return _onnxruntime(model, device, variant, x, path, exporter)
    raise AssertionError(variant.backend)


def reduced_precisions(device: torch.device, requested: list[str] | None = None) -> list[str]:
    """The reduced precisions worth measuring on ``device``: by default tf32, fp16 and bf16 on CUDA (tf32 only
    where the GPU has it: compute capability 8.0 and newer) and bf16 on a CPU with native bf16; a requested list
    is kept as given except tf32, which a CPU cannot run."""
    cuda = device.type == "cuda"
    if requested is None:
        if not cuda:
            return ["bf16"] if cpu_has_native_bf16() else []
        return (["tf32"] if gpu_has_tf32(device) else []) + ["fp16", "bf16"]
    return [p for p in requested if cuda or p != "tf32"]


def gpu_has_tf32(device: torch.device) -> bool:
    """Whether this CUDA device has TensorFloat-32 (compute capability 8.0, Ampere, and newer)."""
    with contextlib.suppress(Exception):
        return torch.cuda.get_device_capability(device)[0] >= 8
    return False


def variants_for(
    device: torch.device, backends: list[str], channels_last: bool = True, half: list[str] | None = None
) -> list[Variant]:
    """The variants to measure: each backend in fp32; channels_last for the PyTorch backends; reduced
    precisions (:func:`reduced_precisions`; ``half`` overrides) for eager, compile and cudagraphs (channels_last
    with them where asked). CUDA-only backends (CUDA graphs) are left out on a CPU."""
    half = reduced_precisions(device, half)
    out: list[Variant] = []
    for backend in backends:
        if backend in CUDA_ONLY_BACKENDS and device.type != "cuda":
            continue
        out.append(Variant(backend))
        if channels_last and backend in ("eager", "compile", "cudagraphs", "jit_freeze"):
            out.append(Variant(backend, channels_last=True))
        if backend in ("eager", "compile", "cudagraphs"):
            out.extend(Variant(backend, p, channels_last=channels_last and p != "tf32") for p in half)
    return out


def peak_memory_reset(device: torch.device) -> None:
    """Start counting peak GPU memory (torch's caching allocator) anew; nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch since :func:`peak_memory_reset`, in MiB; NaN on a CPU (not counted)."""
    if device.type != "cuda":
        return float("nan")
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def cpu_has_native_bf16() -> bool:
    """True where oneDNN runs bf16 natively (AVX512-BF16 or AMX), so CPU bf16 rows are worth measuring."""
    with contextlib.suppress(Exception):
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = next((line for line in text if line.strip()), "")
    return f"{type(err).__name__}: {first[:300]}"


# ---------------------------------------------------------------------------------------------- measuring


def _base_row(
    name: str, device: torch.device, variant: Variant, batch_size: int, input_size: tuple[int, int, int]
) -> dict[str, Any]:
    return {
        "model": name,
        "backend": variant.backend,
        "precision": variant.precision,
        "channels_last": variant.channels_last,
        "batch_size": batch_size,
        "device": str(device),
        "input_shape": "x".join(map(str, (batch_size, *input_size))),
        "status": "ok",
    }


def prepare_variant(
    model: torch.nn.Module,
    name: str,
    device: torch.device,
    variant: Variant,
    x: torch.Tensor,
    reference: torch.Tensor,
    onnx: OnnxCache,
    input_size: tuple[int, int, int],
) -> tuple[dict[str, Any], Runner | None]:
    """Build ``variant`` and check its output against ``reference`` (eager fp32 on ``x``).

    Returns the row (``status`` "ok" or "failed: why"; ``setup_s`` = build + first call, e.g. compile time)
    and the runner, or None when it failed. Never raises for a backend failure.
    """
    row = _base_row(name, device, variant, x.shape[0], input_size)
    start = time.perf_counter()
    peak_memory_reset(device)
    try:
        runner = make_runner(model, device, variant, x, name, onnx)
        out = runner.fn(x).cpu()
        synchronize(device)
    except Exception as err:  # noqa: BLE001 - a backend that cannot run here is a result, not a crash
        row.update(status=f"failed: {_reason(err)}", setup_s=time.perf_counter() - start)
        return row, None
    atol, rtol = TOLERANCE[variant.precision]
    diff = float((out - reference).abs().max())
    tol = atol + rtol * float(reference.abs().max())
    row.update(
        setup_s=time.perf_counter() - start,
        peak_mem_mb=peak_memory_mb(device) if variant.backend != "onnxruntime" else float("nan"),
        max_abs_diff=diff,
        tolerance=tol,
        top1_agreement=float((out.argmax(1) == reference.argmax(1)).float().mean()),
        notes="; ".join(runner.notes),
    )
    if not np.isfinite(diff) or diff > tol:
        row["status"] = f"failed: output differs from eager fp32 by {diff:.3g} > tolerance {tol:.3g}"
        return row, None
    return row, runner


def time_interleaved(
    runners: list[Runner], x: torch.Tensor, device: torch.device, policy: TimingPolicy
) -> list[np.ndarray]:
    """Seconds per batch for each runner, timed in rounds (one batch of each per round).

    Interleaving spreads any change in machine load over every variant alike, so their ratios hold even on a
    shared machine. Each runner is warmed up first; rounds go on until every runner has ``min_repeats`` and
    ``min_seconds`` of timed batches, or ``max_repeats``.
    """
    for r in runners:
        time_batches(
            lambda r=r: r.fn(x),
            device,
            TimingPolicy(warmup=policy.warmup, min_repeats=0, max_repeats=0, min_seconds=0),
        )
    times: list[list[float]] = [[] for _ in runners]

    def wanted(t: list[float]) -> bool:
        return len(t) < policy.max_repeats and (len(t) < policy.min_repeats or sum(t) < policy.min_seconds)

    while any(wanted(t) for t in times):
        for r, t in zip(runners, times, strict=True):
            if wanted(t):
                synchronize(device)
                start = time.perf_counter()
                r.fn(x)
                synchronize(device)
                t.append(time.perf_counter() - start)
    return [np.asarray(t) for t in times]


def measure_batch(
    model: torch.nn.Module,
    name: str,
    device: torch.device,
    variants: list[Variant],
    batch_size: int,
    policy: TimingPolicy,
    onnx: OnnxCache,
    input_size: tuple[int, int, int] = (4, 282, 231),
    progress: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    """Speed rows of every variant of ``model`` at ``batch_size``: checked, warmed up, timed interleaved.

    ``progress(text)`` is called after each variant is built and checked, and before timing starts.
    """
    x = example_batch(batch_size, input_size).to(device)
    reference = eager_reference(model, x, device)
    rows, ready = [], []
    for variant in variants:
        row, runner = prepare_variant(model, name, device, variant, x, reference, onnx, input_size)
        rows.append(row)
        if runner is not None:
            ready.append((row, runner))
        progress(f"{name} b{batch_size} {variant.name}: {row['status'][:40]}")
    progress(f"{name} b{batch_size}: timing {len(ready)} variants interleaved")
    load = load_average()
    for (row, _), times in zip(ready, time_interleaved([r for _, r in ready], x, device, policy), strict=True):
        med, p90 = float(np.median(times)), float(np.percentile(times, 90))
        row.update(
            fps=batch_size / med,
            fps_at_p90=batch_size / p90,
            latency_ms_median=1e3 * med,
            latency_ms_p90=1e3 * p90,
            repeats=len(times),
            load_avg_1m=load,
        )
    for _, runner in ready:
        runner.cleanup()
    return rows


def measure_variant(
    model: torch.nn.Module,
    name: str,
    device: torch.device,
    variant: Variant,
    batch_size: int,
    policy: TimingPolicy,
    onnx: OnnxCache,
    input_size: tuple[int, int, int] = (4, 282, 231),
) -> dict[str, Any]:
    """One variant alone: :func:`measure_batch` with a single variant."""
    return measure_batch(model, name, device, [variant], batch_size, policy, onnx, input_size)[0]


def eager_reference(model: torch.nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Eager fp32 logits for ``x`` (the reference every backend is checked against), on the CPU."""
    model = model.to(device, memory_format=torch.contiguous_format).eval()
    with torch.inference_mode():
        return model(x.to(device)).float().cpu()
