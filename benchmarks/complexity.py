"""Parameters and GMACs of the mer_* models beside the paper's Table 7 (and the Table 5 backbones).

GMACs are fvcore's ``FlopCountAnalysis`` totals: one multiply-add counts once, so the unit is
multiply-adds (the paper's "G" follows the same convention). Counted in eval mode at batch 1 on the paper's
input, an aligned face of 282 x 231 (H x W), 4 channels (3 modality + AU mask). Ops fvcore has no handler for
count zero; they are listed per row (element-wise products, sigmoid gates, pooling).

``python -m benchmarks complexity`` (or ``python -m benchmarks.complexity``) prints the table; ``--check``
exits with status 1 when a Table 7 row is off by more than ±15 % or GFEM < LTFEM < DBFEM < DBFEM+CAFFM
breaks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from benchmarks import paper
from mer.spec import input_size

TABLE7_MODELS = (
    "mer_gfem",
    "mer_ltfem",
    "mer_dbfem",
    "mer_dbfem_caffm",
    "mer_dbfem_caffm_l",
    "mer_dbfem_caffm_g",
)
TABLE5_MODELS = ("mer_gfem_r18", "mer_gfem_r34")
# the comparison systems; FR and MJFN are reconstructions (sizes ours), MOL follows its public code's description
COMPARISON_MODELS = ("mer_fr", "mer_mjfn", "mer_mol")
DEFAULT_MODELS = TABLE7_MODELS + TABLE5_MODELS + COMPARISON_MODELS
# MOL: counted as the full training network and as the recognition path inference runs
PARTS = {"mer_mol": ("full", "recognition")}
# figures measured from MOL's public code (shared/COMPARISON.md); no GMACs were given for the recognition path
REFERENCE = {
    ("mer_mol", "full"): dict(params_m=44.1, gmacs=16.1, source="measured from MOL's public code"),
    ("mer_mol", "recognition"): dict(params_m=1.06, gmacs=float("nan"), source="measured from MOL's public code"),
}
RECONSTRUCTIONS = {"mer_fr": "FR", "mer_mjfn": "MJFN"}
INPUT_SIZE = input_size("flow")
TOLERANCE = 0.15
# The ordering the paper's Table 7 shows, kept on both params and GMACs.
ORDER = ("mer_gfem", "mer_ltfem", "mer_dbfem", "mer_dbfem_caffm")


def count_model(
    name: str, input_size: Sequence[int] | None = None, num_classes: int = 5, part: str = "model"
) -> dict[str, Any]:
    """Params (M), fvcore GMACs and uncounted ops of one registered model at batch 1.

    Args:
        name: a timm model name (``mer_*`` once ``mer`` is imported).
        input_size: (C, H, W) of the input (default: the one the model's config declares); the model is built
            with ``in_chans=C``.
        num_classes: classifier outputs (the paper's CASME II has 5).
        part: ``"model"`` (its ``forward``), or for MOL ``"full"`` (every head on all 7 frame pairs) or
            ``"recognition"`` (what inference runs).

    Returns:
        dict with model, part, params_m, gmacs, uncounted_ops ("aten::op xN, ..."), input_shape ("1x4x282x231").
    """
    import timm
    from fvcore.nn import FlopCountAnalysis

    import mer  # noqa: F401  (registers mer_* in timm)

    kwargs = {} if input_size is None else {"in_chans": int(input_size[0])}
    model = timm.create_model(name, num_classes=num_classes, **kwargs).eval()
    size = tuple(input_size or model.pretrained_cfg["input_size"])
    module = {"full": getattr(model, "full_network", None), "recognition": getattr(model, "recognition_path", None)}
    if part != "model":
        if module.get(part) is None:
            raise ValueError(f"{name} has no {part!r} part")
        model = module[part]()
    x = torch.zeros(1, *size)
    # fvcore logs every uncounted op and tracer warning; they are reported in the table instead.
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        flops = FlopCountAnalysis(model, x)
        flops.unsupported_ops_warnings(False)
        flops.uncalled_modules_warnings(False)
        total = flops.total()
        uncounted = flops.unsupported_ops()
    return dict(
        model=name,
        part=part,
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        gmacs=total / 1e9,
        uncounted_ops=", ".join(f"{op} x{n}" for op, n in sorted(uncounted.items())),
        input_shape="x".join(str(d) for d in x.shape),
    )


COLUMNS = [
    "model",
    "part",
    "paper_row",
    "paper_table",
    "params_m",
    "gmacs",
    "paper_params_m",
    "paper_gmacs",
    "params_ratio",
    "gmacs_ratio",
    "within_tolerance",
    "reference_params_m",
    "reference_gmacs",
    "reference_source",
    "note",
    "uncounted_ops",
    "input_shape",
]


def complexity_row(name: str, part: str = "model", input_size: Sequence[int] | None = None) -> dict[str, Any]:
    """One counted row with the paper's Table 5/7 figures (ours) or the reference figures (MOL) beside it."""
    row = count_model(name, input_size, part=part)
    t7, t5 = paper.table7_row(name), paper.table5_row(name)
    names = [f"{r['row']} (Table {n})" for r, n in ((t7, 7), (t5, 5)) if r]
    row.update(
        paper_row=" / ".join(names),
        paper_table=", ".join(str(n) for r, n in ((t7, 7), (t5, 5)) if r),
        paper_params_m=t7["params_m"] if t7 else float("nan"),
        paper_gmacs=t7["gmacs"] if t7 else float("nan"),
    )
    row["params_ratio"] = row["params_m"] / row["paper_params_m"]
    row["gmacs_ratio"] = row["gmacs"] / row["paper_gmacs"]
    row["within_tolerance"] = (
        bool(abs(row["params_ratio"] - 1) <= TOLERANCE and abs(row["gmacs_ratio"] - 1) <= TOLERANCE) if t7 else None
    )
    ref = REFERENCE.get((name, part))
    row.update(
        reference_params_m=ref["params_m"] if ref else float("nan"),
        reference_gmacs=ref["gmacs"] if ref else float("nan"),
        reference_source=ref["source"] if ref else "",
        note=f"RECONSTRUCTION after {RECONSTRUCTIONS[name]}, sizes ours" if name in RECONSTRUCTIONS else "",
    )
    if ref:  # MOL's full network is held to the same ±15 % on parameters
        row["within_tolerance"] = bool(abs(row["params_m"] / ref["params_m"] - 1) <= TOLERANCE)
    return row


def complexity_table(models: Sequence[str] | None = None, input_size: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per model (MOL: its full network and its recognition path): measured params and GMACs, the
    paper's figures (Tables 5 and 7) or the reference figures beside them, and the ratios.

    Columns: see :data:`COLUMNS`. ``within_tolerance``: both ratios within ±15 % of Table 7 (ours), the params
    within ±15 % of the reference (MOL); None where there is nothing to compare.
    """
    rows = [
        complexity_row(name, part, input_size)
        for name in models or DEFAULT_MODELS
        for part in PARTS.get(name, ("model",))
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def target_problems(df: pd.DataFrame) -> list[str]:
    """Counted Table 7 rows off by more than ±15 %; the GFEM < ... < DBFEM+CAFFM order if all counted."""
    problems = [
        f"{r.model} ({r.part}): params x{r.params_m / r.reference_params_m:.3f} of {r.reference_source}"
        if r.reference_source
        else f"{r.model}: params x{r.params_ratio:.3f}, GMACs x{r.gmacs_ratio:.3f} of the paper"
        for r in df.itertuples()
        if r.within_tolerance is False
    ]
    by_model = df.set_index("model")
    if all(m in by_model.index for m in ORDER):
        for col in ("params_m", "gmacs"):
            values = [by_model.at[m, col] for m in ORDER]
            if any(a >= b for a, b in zip(values, values[1:], strict=False)):
                problems.append(f"{col} not increasing over {' < '.join(ORDER)}: {values}")
    return problems


def format_table(df: pd.DataFrame) -> str:
    """The table as fixed-width text, numbers rounded, uncounted ops listed below it."""
    names = {
        "model": "model",
        "part": "part",
        "paper_row": "paper row",
        "params_m": "params M",
        "paper_params_m": "paper M",
        "params_ratio": "ratio",
        "gmacs": "GMACs (fvcore)",
        "paper_gmacs": "paper G",
        "gmacs_ratio": "ratio ",
        "reference_params_m": "ref M",
        "reference_gmacs": "ref G",
        "within_tolerance": "±15%",
    }
    shown = df[list(names)].copy()
    numbers = ("params_m", "paper_params_m", "params_ratio", "gmacs", "paper_gmacs", "gmacs_ratio")
    for col in (*numbers, "reference_params_m", "reference_gmacs"):
        shown[col] = shown[col].map(lambda v: f"{v:.3f}" if pd.notna(v) else "-")
    shown["within_tolerance"] = shown["within_tolerance"].map(lambda v: "-" if v is None else "yes" if v else "NO")
    shown = shown.rename(columns=names)
    lines = [shown.to_string(index=False), ""]
    lines += [f"  {r.model}: {r.note}" for r in df.itertuples() if r.note]
    lines += [f"  {r.model} ({r.part}): ref = {r.reference_source}" for r in df.itertuples() if r.reference_source]
    lines += ["", "ops fvcore left uncounted (count zero):"]
    lines += [f"  {r.model} ({r.part}): {r.uncounted_ops or 'none'}" for r in df.itertuples()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks complexity",
        description="Params and GMACs (fvcore, one multiply-add = 1) of the mer_* models beside the paper.",
    )
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="registered model names")
    parser.add_argument(
        "--input-size",
        nargs=3,
        type=int,
        default=None,
        metavar=("C", "H", "W"),
        help="model input (default: each model's declared input)",
    )
    parser.add_argument("--csv", help="also write the table to this CSV file")
    parser.add_argument("--check", action="store_true", help="exit 1 when the ±15%% Table 7 target is missed")
    args = parser.parse_args(argv)

    df = complexity_table(args.models, tuple(args.input_size) if args.input_size else None)
    shapes = ", ".join(dict.fromkeys(df["input_shape"]))
    print(f"input shape: {shapes} (batch, channels, height, width; each model's own); model.eval(), fvcore")
    print("GMACs: fvcore FlopCountAnalysis total / 1e9 (one multiply-add counted once); paper G: Table 7\n")
    print(format_table(df))
    if args.csv:
        df.to_csv(args.csv, index=False)
        print(f"\nwrote {args.csv}")
    problems = target_problems(df)
    missing = [m for m in TABLE7_MODELS if m not in set(df["model"])]
    verdict = "MISSED" if problems else ("not judged, Table 7 rows left out" if missing else "met")
    print("\ntarget (Table 7 within ±15% on params and GMACs, GFEM < LTFEM < DBFEM < DBFEM+CAFFM):", verdict)
    for line in problems:
        print(f"  {line}")
    return 1 if args.check and (problems or missing) else 0


if __name__ == "__main__":
    sys.exit(main())
