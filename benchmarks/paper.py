"""The paper's reported numbers, as data (Zhang et al., "Micro-expression Recognition Based on Dual-branch
Feature Extraction and Fusion"; CASME II, 5 classes). Nothing here is measured; every table built from it
says so.

Accuracies are fractions in [0, 1] (the paper prints Table 7 and 8 in percent, Table 5 as fractions). "G" in
Table 7 is the paper's complexity column; it matches fvcore's count, one multiply-add counted once (GMACs).
FPS was measured on hardware the paper does not name.

Things in the paper that do not add up, kept as printed:

- Table 5 gives the ResNet-12 global branch alone 75.77 % accuracy, Table 7 gives GFEM 66.31 % and the full
  model 74.67 %; the protocol (LOSO or a split) is not stated for either table.
- The text's Table 5 differences for ResNet-34 (accuracy -0.0402, UF1 -0.0212, UAR -0.0359) do not match the
  table (-0.0062, -0.0212, -0.0359).
- Table 7: DBFEM (8.13 M, 4.927 G) is smaller than GFEM + LTFEM (8.85 M, 5.065 G), and CAFFM_L / CAFFM_G have
  more parameters but fewer G than the full CAFFM.
- Table 8's method names are cut short in the source text ("3D-CNNs(with", "Knowledge"); completed here from
  the reference list ([9], [14]).
"""

from __future__ import annotations

from typing import Any

PAPER = (
    "Zhang M., Li B., Liu W., Cui H., Li Y., Li Q., Li H., Gao G.: Micro-expression Recognition Based on "
    "Dual-branch Feature Extraction and Fusion"
)

# Table 5: ResNet with different numbers of layers, global-feature images as input.
TABLE5: list[dict[str, Any]] = [
    dict(row="ResNet_12", model="mer_gfem", accuracy=0.7577, uf1=0.7610, uar=0.7643),
    dict(row="ResNet_18", model="mer_gfem_r18", accuracy=0.7434, uf1=0.7282, uar=0.7137),
    dict(row="ResNet_34", model="mer_gfem_r34", accuracy=0.7515, uf1=0.7398, uar=0.7284),
]

# Table 7: ablation of the feature modules; params in millions, complexity in G (multiply-adds), FPS.
TABLE7: list[dict[str, Any]] = [
    dict(row="GFEM", model="mer_gfem", accuracy=0.6631, params_m=2.59, gmacs=1.778, fps=111.5),
    dict(row="LTFEM", model="mer_ltfem", accuracy=0.6269, params_m=6.26, gmacs=3.287, fps=106.3),
    dict(row="DBFEM", model="mer_dbfem", accuracy=0.7116, params_m=8.13, gmacs=4.927, fps=104.5),
    dict(row="DBFEM+CAFFM", model="mer_dbfem_caffm", accuracy=0.7467, params_m=8.46, gmacs=5.165, fps=97.3),
    dict(row="DBFEM+CAFFM_L", model="mer_dbfem_caffm_l", accuracy=0.7352, params_m=8.49, gmacs=5.14, fps=97.3),
    dict(row="DBFEM+CAFFM_G", model="mer_dbfem_caffm_g", accuracy=0.7223, params_m=8.5, gmacs=5.151, fps=97.5),
]

# Table 8: CASME II recognition, accuracy (fraction), precision, recall as printed.
TABLE8: list[dict[str, Any]] = [
    dict(method="LBP-TOP", model="lbptop_svm", accuracy=0.6341, precision=0.628, recall=0.635),
    dict(method="DISTLBP-IIP", accuracy=0.6478, precision=0.642, recall=0.649),
    dict(method="3D-CNNs (with transfer learning) [9]", accuracy=0.659, precision=0.653, recall=0.66),
    dict(method="SSSN [10]", accuracy=0.7119, precision=0.706, recall=0.713),
    dict(method="AKMNet [11]", accuracy=0.6706, precision=0.665, recall=0.672),
    dict(method="KFC-MER [12]", accuracy=0.7276, precision=0.721, recall=0.728),
    dict(method="FR [13]", model="mer_fr", accuracy=0.6285, precision=0.622, recall=0.629),
    dict(method="Knowledge distillation [14]", accuracy=0.7261, precision=0.72, recall=0.727),
    dict(method="SLSTT-Mean [15]", accuracy=0.7379, precision=0.732, recall=0.739),
    dict(method="Later [16]", accuracy=0.7068, precision=0.701, recall=0.708),
    dict(method="KTGSL [17]", accuracy=0.7258, precision=0.719, recall=0.726),
    dict(method="AMAN [18]", accuracy=0.754, precision=0.748, recall=0.755),
    dict(method="MSMMT [19]", accuracy=0.7131, precision=0.707, recall=0.714),
    dict(method="OURS (DBFEM+CAFFM)", model="mer_dbfem_caffm", accuracy=0.7467, precision=0.741, recall=0.748),
]


def table7_row(model: str) -> dict[str, Any] | None:
    """The Table 7 row reported for a registered model name (``mer_gfem`` ...), or None."""
    return next((dict(r) for r in TABLE7 if r["model"] == model), None)


def table5_row(model: str) -> dict[str, Any] | None:
    """The Table 5 row reported for a registered model name, or None."""
    return next((dict(r) for r in TABLE5 if r["model"] == model), None)


def reported_accuracy_rows() -> list[dict[str, Any]]:
    """Every reported accuracy row (Tables 5, 7, 8) in the columns of ``benchmarks.accuracy``.

    Keys: method (the paper's row name), model (our registered name, or None), accuracy, macro_precision,
    macro_recall, uf1, uar (None where the paper gives no figure), gmacs and params_m (Table 7 only), source.
    """
    rows = []
    for r in TABLE5:
        rows.append(_row(r["row"], r["model"], "Table 5", accuracy=r["accuracy"], uf1=r["uf1"], uar=r["uar"]))
    for r in TABLE7:
        rows.append(
            _row(
                r["row"],
                r["model"],
                "Table 7",
                accuracy=r["accuracy"],
                gmacs=r["gmacs"],
                params_m=r["params_m"],
            )
        )
    for r in TABLE8:
        rows.append(
            _row(
                r["method"],
                r.get("model"),
                "Table 8",
                accuracy=r["accuracy"],
                macro_precision=r["precision"],
                macro_recall=r["recall"],
            )
        )
    return rows


def _row(method: str, model: str | None, table: str, **values: float) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        method=method,
        model=model,
        data_source="CASME II (reported)",
        accuracy=None,
        macro_precision=None,
        macro_recall=None,
        uf1=None,
        uar=None,
        gmacs=None,
        params_m=None,
        source=f"paper, {table}",
    )
    row.update(values)
    return row
