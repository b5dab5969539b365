"""Naming by the mean of an input's logits and its mirror image's: figures of one checkpoint both ways (issue 23).

The model was trained with horizontal flips (the flow's u negated with them, ``mer.engine.data.CacheDataset``), so
its mirror image is an input it knows. For one checkpoint, on a validation cache of training identities and then on
the injected real-video events of ``benchmarks.naming`` (its ``--plans``, both movements): accuracy, UF1, and NLL and
ECE (15 bins) with a temperature fitted on the validation cache for each way. The rule that decides (written before
any figure): ``benchmarks/results/naming/README.md``, addendum 2.

    python -m benchmarks.flip --checkpoint CHECKPOINT --val-cache CACHE --plans 1 9 --store DIR --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.naming import MOVEMENTS, add_plans_argument, cached_inputs, model_inputs, model_logits, plan_range

WAYS = ("usual", "flip-averaged")


def mirrored(x: np.ndarray, u_channel: int | None) -> np.ndarray:
    """A raw (C, H, W) input's mirror image: columns reversed and the horizontal flow u negated, as training's
    horizontal flip makes it."""
    out = x[:, :, ::-1].copy()
    if u_channel is not None:
        out[u_channel] *= -1.0
    return out


def way_logits(predictor: Any, xs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Way -> (N, C) logits of raw inputs `xs`: the model's own (``usual``) and the mean of theirs and their mirror
    images' (``flip-averaged``), each input run once and its mirror image once."""
    channels = list(predictor.card["input"]["channels"])
    u = channels.index("u") if "u" in channels else None
    logits = np.array([model_logits(predictor, x) for x in xs])
    mirror = np.array([model_logits(predictor, mirrored(x, u)) for x in xs])
    return {"usual": logits, "flip-averaged": (logits + mirror) / 2.0}


def figures(logits: np.ndarray, labels: np.ndarray, names: list[str], temperature: float) -> dict[str, float]:
    """Accuracy, UF1, NLL and ECE of logits against labels, the last two with `temperature`."""
    from scipy.special import softmax

    from mer.engine.calibration import expected_calibration_error, nll
    from mer.engine.metrics import classification_metrics

    probs = softmax(logits / temperature, axis=1)
    metrics = classification_metrics([names[i] for i in labels], [names[i] for i in probs.argmax(1)], names)
    return {"accuracy": metrics["accuracy"], "uf1": metrics["uf1"], "right": int((probs.argmax(1) == labels).sum()),
            "n": len(labels), "nll": nll(probs, labels), "ece": expected_calibration_error(probs, labels)}  # fmt: skip


def validation_logits(predictor: Any, cache_root: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(way -> logits, labels) of every sample of a validation cache."""
    from mer.engine.data import CacheDataset, open_cache

    cache = open_cache(cache_root)
    if cache.class_names != predictor.class_names:
        raise ValueError(f"the cache names {cache.class_names}, the checkpoint {predictor.class_names}")
    dataset = CacheDataset(cache, cache.index)
    return way_logits(predictor, [dataset.raw(i) for i in range(len(dataset))]), dataset.labels()


def compare(checkpoint: Path, val_cache: Path, store: Path | None, plans: range, real: bool = True) -> pd.DataFrame:
    """One row per (way, set): the validation cache first (each way's temperature fitted there), then (with
    `real`) each movement's measured events with that temperature."""
    from scipy.special import softmax

    from mer.engine.calibration import fit_temperature
    from mer.inference import Predictor

    predictor = Predictor.from_checkpoint(checkpoint)
    names = predictor.class_names
    rows, temperatures = [], {}
    ways, labels = validation_logits(predictor, val_cache)
    for way in WAYS:
        temperatures[way] = fit_temperature(softmax(ways[way], axis=1), labels)
        rows.append({"way": way, "set": "validation", "temperature": temperatures[way],
                     **figures(ways[way], labels, names, temperatures[way]),
                     "nll_raw": figures(ways[way], labels, names, 1.0)["nll"]})  # fmt: skip
    for movement in MOVEMENTS if real else ():  # the real videos only now, after every validation figure
        items = cached_inputs(movement, None, store, plans)
        xs = model_inputs(items, checkpoint, store, movement, plans)
        labels = np.array([names.index(emotion) for emotion, _ in items])
        ways = way_logits(predictor, xs)
        for way in WAYS:
            got = figures(ways[way], labels, names, temperatures[way])
            rows.append({"way": way, "set": f"real, {movement} plans {plans[0] + 1}-{plans[-1] + 1}",
                         "temperature": temperatures[way], **got})  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flip", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--val-cache", type=Path, required=True, help="validation cache of training identities")
    add_plans_argument(parser)
    parser.add_argument("--store", type=Path, help="where benchmarks.naming keeps the events' inputs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/naming/flip"))
    parser.add_argument("--validation-only", action="store_true", help="the validation figures alone (decide first)")
    args = parser.parse_args(argv)
    plans = plan_range(parser, args.plans)
    table = compare(args.checkpoint, args.val_cache, args.store, plans, real=not args.validation_only)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / ("validation.csv" if args.validation_only else "flip.csv"), index=False)
    (args.out / "settings.json").write_text(json.dumps({k: str(v) for k, v in vars(args).items()}, indent=2) + "\n")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
