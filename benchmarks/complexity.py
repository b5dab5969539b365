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
DEFAULT_MODELS = TABLE7_MODELS + TABLE5_MODELS
INPUT_SIZE = input_size("flow")
TOLERANCE = 0.15
# The ordering the paper's Table 7 shows, kept on both params and GMACs.
ORDER = ("mer_gfem", "mer_ltfem", "mer_dbfem", "mer_dbfem_caffm")


def count_model(name: str, input_size: Sequence[int] = INPUT_SIZE, num_classes: int = 5) -> dict[str, Any]:
    """Params (M), fvcore GMACs and uncounted ops of one registered model at batch 1.

    Args:
        name: a timm model name (``mer_*`` once ``mer`` is imported).
        input_size: (C, H, W) of the input; the model is built with ``in_chans=C``.
        num_classes: classifier outputs (the paper's CASME II has 5).

    Returns:
        dict with model, params_m, gmacs, uncounted_ops ("aten::op xN, ..."), input_shape ("1x4x282x231").
    """
    import timm
    from fvcore.nn import FlopCountAnalysis

    import mer  # noqa: F401  (registers mer_* in timm)

    model = timm.create_model(name, num_classes=num_classes, in_chans=int(input_size[0])).eval()
    x = torch.zeros(1, *input_size)
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
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        gmacs=total / 1e9,
        uncounted_ops=", ".join(f"{op} x{n}" for op, n in sorted(uncounted.items())),
        input_shape="x".join(str(d) for d in x.shape),
    )


def complexity_table(
    models: Sequence[str] | None = None, input_size: Sequence[int] = INPUT_SIZE
) -> pd.DataFrame:
    """One row per model: measured params and GMACs, the paper's figures and the ratios measured / paper.

    Columns: model, paper_row, paper_table, params_m, gmacs, paper_params_m, paper_gmacs, params_ratio,
    gmacs_ratio, within_tolerance (both ratios within ±15 %; None without paper figures), uncounted_ops,
    input_shape.
    """
    rows = []
    for name in models or DEFAULT_MODELS:
        row = count_model(name, input_size)
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
            bool(abs(row["params_ratio"] - 1) <= TOLERANCE and abs(row["gmacs_ratio"] - 1) <= TOLERANCE)
            if t7
            else None
        )
        rows.append(row)
    columns = [
        "model",
        "paper_row",
        "paper_table",
        "params_m",
        "gmacs",
        "paper_params_m",
        "paper_gmacs",
        "params_ratio",
        "gmacs_ratio",
        "within_tolerance",
        "uncounted_ops",
        "input_shape",
    ]
    return pd.DataFrame(rows, columns=columns)


def target_problems(df: pd.DataFrame) -> list[str]:
    """Counted Table 7 rows off by more than ±15 %; the GFEM < ... < DBFEM+CAFFM order if all counted."""
    problems = [
        f"{r.model}: params x{r.params_ratio:.3f}, GMACs x{r.gmacs_ratio:.3f} of the paper"
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
        "paper_row": "paper row",
        "params_m": "params M",
        "paper_params_m": "paper M",
        "params_ratio": "ratio",
        "gmacs": "GMACs (fvcore)",
        "paper_gmacs": "paper G",
        "gmacs_ratio": "ratio ",
        "within_tolerance": "±15%",
    }
    shown = df[list(names)].copy()
    for col in ("params_m", "paper_params_m", "params_ratio", "gmacs", "paper_gmacs", "gmacs_ratio"):
        shown[col] = shown[col].map(lambda v: f"{v:.3f}" if pd.notna(v) else "-")
    shown["within_tolerance"] = shown["within_tolerance"].map(
        lambda v: "-" if v is None else "yes" if v else "NO"
    )
    shown = shown.rename(columns=names)
    lines = [shown.to_string(index=False), "", "ops fvcore left uncounted (count zero):"]
    lines += [f"  {r.model}: {r.uncounted_ops or 'none'}" for r in df.itertuples()]
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
        default=list(INPUT_SIZE),
        metavar=("C", "H", "W"),
        help="model input",
    )
    parser.add_argument("--csv", help="also write the table to this CSV file")
    parser.add_argument("--check", action="store_true", help="exit 1 when the ±15%% Table 7 target is missed")
    args = parser.parse_args(argv)

    df = complexity_table(args.models, tuple(args.input_size))
    print(f"input shape: {df['input_shape'].iloc[0]} (batch, channels, height, width); model.eval(), fvcore")
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
