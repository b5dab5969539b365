"""``mer train``, ``mer evaluate``, ``mer merge``.

Settings resolve in this order, later winning: the preset (``--preset fast|paper``), then the named flags
(``--epochs`` ...), then ``--set key=value`` (any TrainConfig field, MMAction2 style).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

# flag attribute -> TrainConfig field
FLAG_FIELDS = {
    "model": "model",
    "protocol": "protocol",
    "seeds": "seeds",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "amp": "amp",
    "class_weights": "class_weights",
    "val_subjects": "val_subjects",
    "holdout_subjects": "holdout_subjects",
    "audit_every": "audit_every",
    "workers": "num_workers",
}


def format_metrics(metrics: dict[str, Any]) -> str:
    """A few lines: data source, headline metrics (mean ± std over seeds) and the inflated audit figure."""
    src = metrics.get("data_source") or {}
    where = src.get("description") or f"{src.get('dataset', 'unknown')} (synthetic: {src.get('synthetic')})"
    lines = [
        f"data: {where}; {metrics['folds']} fold(s), {metrics['n_per_seed']} test predictions per seed, "
        f"seeds {metrics['seeds']}",
    ]
    if metrics.get("held_out_subjects"):
        lines.append(f"held-out subjects: {', '.join(metrics['held_out_subjects'])}")
    if metrics.get("selection"):
        lines.append(f"selection: {metrics['selection']}")
    over = metrics["over_seeds"]
    lines.append(
        "  ".join(f"{k} {over[k]['mean']:.4f}±{over[k]['std']:.4f}" for k in ("accuracy", "uf1", "uar"))
        + "  (pooled over folds; mean±std over seeds)"
    )
    audit = metrics.get("leakage_audit")
    if audit:
        lines.append(
            f"leakage audit, {audit['label']}: accuracy {audit['accuracy']:.4f} uf1 {audit['uf1']:.4f} "
            f"(+{audit['inflation']['uf1']:.4f} uf1 over the final epoch)"
        )
    return "\n".join(lines)


def config_from_args(args: argparse.Namespace, **fixed: Any):
    """The TrainConfig of parsed flags (see :func:`add_config_flags`): preset, then flags, then ``--set``, then
    ``fixed`` (fields the calling command sets itself). Flags a parser lacks count as not given."""
    from mer.engine.config import build_config, parse_overrides

    given = {attr: getattr(args, attr, None) for attr in FLAG_FIELDS}
    flags = {FLAG_FIELDS[attr]: value for attr, value in given.items() if value is not None}
    return build_config(args.preset, {**flags, **parse_overrides(args.set), **fixed})


def run_train(args: argparse.Namespace) -> int:
    from mer.engine.train import TrainingStopped, train_run

    cfg = config_from_args(args)
    try:
        metrics = train_run(
            cfg,
            args.data,
            args.out,
            folds=args.fold,
            device=args.device,
            progress=not args.no_progress,
            export=args.export,
        )
    except TrainingStopped as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    if metrics is None:
        print(f"fold(s) {args.fold} done in {args.out}; when every fold is done: mer merge {args.out}")
        return 0
    print(format_metrics(metrics))
    print(f"wrote {args.out}/predictions.csv, {args.out}/metrics.json")
    if args.export:
        print(f"exported {args.export} (+ card {str(args.export).rsplit('.', 1)[0]}.json)")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from mer.engine.train import evaluate_run

    metrics = evaluate_run(args.run, write=not args.no_write)
    print(json.dumps(metrics, indent=2) if args.json else format_metrics(metrics))
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from mer.engine.train import merge_run

    metrics = merge_run(args.run)
    print(format_metrics(metrics))
    print(f"wrote {args.run}/predictions.csv, {args.run}/metrics.json")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``, ``evaluate`` and ``merge``."""
    p = subparsers.add_parser(
        "train",
        help="train a model with leave-one-subject-out or a subject holdout",
        description="Train on a preprocessed cache. Runs are resumable: rerun the same command to continue. "
        "Writes RUN/predictions.csv (the single source of truth) and RUN/metrics.json.",
    )
    p.add_argument("--data", required=True, metavar="CACHE", help="cache folder written by `mer preprocess`")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (created; reused to resume)")
    p.add_argument(
        "--model",
        help="registered model name, e.g. mer_dbfem_caffm (default), mer_gfem; comparison systems: mer_fr, "
        "mer_mjfn (reconstructions), mer_mol, lbptop_svm (their inputs are derived from the cache once)",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds; metrics give mean ± std over them")
    p.add_argument("--fold", type=int, nargs="+", metavar="K", help="run only these folds (then `mer merge`)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    add_config_flags(p)
    p.add_argument("--export", metavar="PATH", help="holdout: save the model + card here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    p = subparsers.add_parser(
        "evaluate",
        help="recompute metrics.json from a run's predictions.csv",
        description="Recompute RUN/metrics.json from RUN/predictions.csv (and RUN/audit.csv for the audit).",
    )
    p.add_argument("run", metavar="RUN", help="run folder or a predictions.csv")
    p.add_argument("--json", action="store_true", help="print the whole metrics JSON")
    p.add_argument("--no-write", action="store_true", help="print only; leave metrics.json as it is")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "merge",
        help="join the folds of a run trained with --fold into predictions.csv and metrics.json",
    )
    p.add_argument("run", metavar="RUN")
    p.set_defaults(func=run_merge)


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """The training settings' flags (all but --model and --seeds), shared by ``mer train`` and ``mer grid``;
    read them back with :func:`config_from_args`."""
    p.add_argument("--protocol", choices=("loso", "holdout"), help="default loso")
    p.add_argument("--preset", default="fast", choices=("fast", "paper"), help="fast (default) or paper (500 epochs)")
    p.add_argument("--amp", action="store_const", const=True, help="mixed precision")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--class-weights", action="store_const", const=True, help="inverse-frequency loss weights")
    p.add_argument(
        "--val-subjects",
        type=_positive,
        metavar="K",
        help="pick epochs on K training subjects per fold (never on the test subject)",
    )
    p.add_argument("--holdout-subjects", type=_positive, metavar="K", help="holdout: subjects held out")
    p.add_argument("--audit-every", type=_positive, metavar="N", help="audit: test predictions every N epochs")
    p.add_argument("--workers", type=_positive, help="data loader worker processes")
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="override any setting, e.g. --set step_size=50 max_shift=2 model_kwargs='{\"drop_rate\": 0.2}'",
    )
