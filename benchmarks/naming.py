"""Naming on real faces for several checkpoints, and whether a validation set of training identities ranks them as
the real videos do (issue 23).

For each candidate checkpoint:

- ``validation``: accuracy, UF1, NLL and ECE (15 bins) on a cache made ONLY from training identities (new subjects
  of the training photos: ``mer synth --photos every --video-like --movement mixed --pose`` with a seed of its own,
  then ``mer preprocess``), raw and with a temperature fitted there (the only calibration this comparison uses);
- ``measured``: named right given the true onset and apex on the real videos of the two measurement-only people
  (``mer.synth.real_media.HELD_OUT_PEOPLE``), micro-expressions put in exactly as ``benchmarks.realfaces`` does
  (``gaussian``: the figure of record), and the same plans moved anatomically (``anatomy``: each event's AUs drawn
  at the real sheets' frequencies, py-feat's AU -> mesh movement on each frame's own mesh; ``mer.synth.inject``);
  with ECE raw and with the VALIDATION temperature.

- ``heldout`` (with ``--test-subjects``): accuracy and UF1 on synthetic subjects held out of the training run (the
  issue's "held-out synthetic subjects"), overall and per movement (Gaussian or anatomical, from the synthetic
  set's ``ground_truth.csv``); read after the validation figures, like the real videos.

Then how the validation score ranks the candidates against the measured one (Spearman's rho and Kendall's tau).
The measured videos choose nothing: they are read after every validation figure is fixed.

    python -m benchmarks.naming --prepare --store DIR          # the events' crops, once (most of the time)
    python -m benchmarks.naming --val-cache CACHE [--val-subjects S ...] [--test-subjects S ...] \
        --checkpoints A B ... [--names a b ...] --store DIR --out DIR
    python -m benchmarks.naming --checkpoints A B ... --plans 4 9 --store DIR --out DIR   # card temperatures,
                                                               # fresh plans (benchmarks.realfaces reads 1-3)
    python -m benchmarks.naming --epoch-state STATE --card-from CHECKPOINT --out DIR   # an epoch as a candidate
    python -m benchmarks.naming --combine A/naming.csv B/naming.csv --out DIR    # tables of separate runs as one
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.realfaces import REPEATS

MOVEMENTS = ("gaussian", "anatomy")
PLANS = range(REPEATS)  # the injection plans benchmarks.realfaces itself measures (0-based; 39 events a movement)


def validation_scores(
    checkpoint: str | Path, cache_root: str | Path, subjects: list[str] | None = None
) -> dict[str, Any]:
    """A checkpoint's figures on a validation cache (its `subjects`, default all): accuracy, uf1, nll, ece raw;
    the temperature fitted there and nll/ece with it; n. The probabilities too (``probs``, ``labels``)."""
    import torch

    from mer.engine.calibration import apply_temperature, expected_calibration_error, fit_temperature, nll
    from mer.engine.checkpoint import load_checkpoint
    from mer.engine.data import CacheDataset, open_cache
    from mer.engine.metrics import classification_metrics
    from mer.engine.train import predict

    cache = open_cache(cache_root)
    model, card = load_checkpoint(checkpoint)
    if list(card["class_names"]) != cache.class_names:
        raise ValueError(f"{checkpoint} names {card['class_names']}, the cache {cache.class_names}")
    rows = cache.index if not subjects else cache.index[cache.index["subject"].astype(str).isin(subjects)]
    if rows.empty:
        raise ValueError(f"no sample of subjects {subjects} in {cache_root}")
    probs, labels, _ = predict(model, CacheDataset(cache, rows), torch.device("cpu"), 16)
    names = cache.class_names
    metrics = classification_metrics([names[i] for i in labels], [names[i] for i in probs.argmax(1)], names)
    temperature = fit_temperature(probs, labels)
    scaled = apply_temperature(probs, temperature)
    return {
        "val_accuracy": metrics["accuracy"], "val_uf1": metrics["uf1"], "val_nll": nll(probs, labels),
        "val_ece": expected_calibration_error(probs, labels), "val_temperature": temperature,
        "val_nll_t": nll(scaled, labels), "val_ece_t": expected_calibration_error(scaled, labels),
        "val_n": len(labels), "probs": probs, "labels": labels,
    }  # fmt: skip


def heldout_scores(checkpoint: str | Path, cache_root: str | Path, subjects: list[str]) -> dict[str, Any]:
    """Accuracy and UF1 of a checkpoint on the held-out synthetic `subjects` of a cache, overall and per movement
    (``heldout_gaussian_accuracy``, ``heldout_anatomy_accuracy``: the synthetic set's ``ground_truth.csv``
    ``movement`` column, when the cache's root has one)."""
    from mer.engine.data import open_cache
    from mer.engine.metrics import classification_metrics

    got = validation_scores(checkpoint, cache_root, subjects)
    names = open_cache(cache_root).class_names
    out = {"heldout_accuracy": got["val_accuracy"], "heldout_uf1": got["val_uf1"], "heldout_n": got["val_n"]}
    movements = sample_movements(cache_root, subjects)
    if movements is not None:
        for movement in sorted(set(movements)):
            keep = movements == movement
            true, pred = got["labels"][keep], got["probs"][keep].argmax(1)
            metrics = classification_metrics([names[i] for i in true], [names[i] for i in pred], names)
            out[f"heldout_{movement}_accuracy"] = metrics["accuracy"]
            out[f"heldout_{movement}_n"] = int(keep.sum())
    return out


def sample_movements(cache_root: str | Path, subjects: list[str]) -> np.ndarray | None:
    """Each sample's movement (``gaussian``/``anatomy``) of the cache's `subjects`, in the cache's order, from the
    synthetic set's ``ground_truth.csv``; None when the cache was not made by ``mer synth`` with movements."""
    from mer.engine.data import open_cache

    cache = open_cache(cache_root)
    truth_path = Path(str(cache.settings.get("root", ""))) / "ground_truth.csv"
    if not truth_path.is_file():
        return None
    truth = pd.read_csv(truth_path, dtype={"sample": str})
    if "movement" not in truth:
        return None
    truth["subject"] = [f"sub{int(s):02d}" for s in truth["subject"]]
    movement = dict(zip(zip(truth["subject"], truth["sample"], strict=True), truth["movement"], strict=True))
    rows = cache.index[cache.index["subject"].astype(str).isin(subjects)]
    return np.array([movement[(str(s), str(k))] for s, k in zip(rows["subject"], rows["sample"], strict=True)])


def epoch_checkpoint(state: str | Path, card_from: str | Path, out: str | Path) -> Path:
    """A checkpoint folder of one epoch of a ``mer train`` run (a copy of its ``state.pt``), to compare as a
    candidate: the model of `card_from` (the run's ``init``: same architecture, classes and inputs) with the
    state's weights, and that card less its figures and calibration, saying which epoch it is."""
    import torch

    from mer.engine.checkpoint import load_checkpoint, save_checkpoint

    saved = torch.load(state, map_location="cpu", weights_only=True)
    model, card = load_checkpoint(card_from)
    model.float().load_state_dict(saved["model"])
    for figure in ("metrics", "calibration"):
        card.pop(figure, None)
    card["note"] = (
        f"Epoch {saved['epoch']} of a training run ({Path(state).name}), a candidate for benchmarks.naming only; "
        f"card fields other than the weights are those of {Path(card_from).name}."
    )
    card["training"] = {**card.get("training", {}), "epochs_run": saved["epoch"], "history": saved["history"]}
    return save_checkpoint(model, out, card, fp16=True)


def event_inputs(truths: list[Any], pad_s: float = 0.3) -> list[tuple[str, Any]]:
    """(true class, aligned crops) per injected event, found once for every candidate: what
    ``benchmarks.realfaces.given_answers`` has the Predictor do (the event's stretch of the clip, ``pad_s`` either
    side, spotted with the true onset and apex given; the crops of its salient micro event)."""
    from mer.spotting.source import Clip
    from mer.spotting.spot import spot

    out = []
    for truth in truths:
        pad = max(2, round(pad_s * truth.fps))
        for event in truth.events:
            start, stop = max(0, event.onset - pad), min(len(truth.frames), event.offset + pad + 1)
            clip = Clip(truth.frames[start:stop], truth.fps, f"{truth.name} [{start}:{stop}]")
            spotting = spot(clip.timed(), truth.fps, given=(event.onset - start, event.apex - start))
            micro = [k for k, e in enumerate(spotting.events) if e.kind == "micro" and k in spotting.frames]
            salient = max(micro, key=lambda k: spotting.events[k].strength)
            out.append((event.emotion, spotting.frames[salient]))
    return out


def measured_scores(
    checkpoint: str | Path, items: list[tuple[str, Any]], temperature: float, xs: list, key: str
) -> dict[str, Any]:
    """Named right over the events `items` (``event_inputs``; `xs` their raw inputs from ``model_inputs``, built
    for the preprocessing `key`), and ECE of the uncalibrated answers and with `temperature` (the validation
    set's)."""
    from scipy.special import softmax

    from mer.engine.calibration import apply_temperature, expected_calibration_error
    from mer.inference import Predictor

    predictor = Predictor.from_checkpoint(checkpoint)
    if f"{predictor.modality}_{predictor.flow}" != key:
        raise ValueError(f"{checkpoint} reads {predictor.modality}/{predictor.flow} inputs, not {key}")
    names = list(predictor.class_names)
    labels = np.array([names.index(emotion) for emotion, _ in items])
    raw = np.array([softmax(model_logits(predictor, x)) for x in xs])
    right = raw.argmax(1) == labels
    return {
        "accuracy": float(right.mean()), "n": len(items), "right": int(right.sum()),
        "ece_raw": expected_calibration_error(raw, labels),
        "ece_t": expected_calibration_error(apply_temperature(raw, temperature), labels),
        "per_class": {c: float(right[labels == i].mean()) if (labels == i).any() else float("nan")
                      for i, c in enumerate(names)},
    }  # fmt: skip


def model_inputs(items: list[tuple[str, Any]], checkpoint: str | Path, store: Path | None, movement: str,
                 plans: range = PLANS) -> list:  # fmt: skip
    """The raw model input of each event's crops (its onset -> apex optical flow: most of the time), as
    ``Predictor.name_event`` builds it for `checkpoint`'s preprocessing; kept in `store` (every candidate here
    shares one preprocessing, checked in ``measured_scores``)."""
    from mer.data import inputs
    from mer.inference import Predictor

    predictor = Predictor.from_checkpoint(checkpoint)
    key = f"{predictor.modality}_{predictor.flow}"
    path = store / f"inputs_{movement}_{key}_plans{plans[0] + 1}-{plans[-1] + 1}_{len(items)}.npy" if store else None
    if path is not None and path.is_file():
        return list(np.load(path))
    xs = [inputs.build_input(f.onset, f.apex, f.landmarks, modality=predictor.modality, flow=predictor.flow)
          for _, f in items]  # fmt: skip
    if path is not None:
        np.save(path, np.stack(xs))
    return xs


def model_logits(predictor: Any, x: np.ndarray) -> np.ndarray:
    """The model's logits for one raw input, as ``Predictor.name_event`` computes them (the same normalisation and
    model call)."""
    from mer.data import inputs

    normalised = inputs.normalize(x, predictor.mean, predictor.std)
    return np.asarray(predictor._run_model(normalised, False, {"model": 0.0, "gradcam": 0.0}).logits, np.float64)


def rank_agreement(a: list[float], b: list[float]) -> dict[str, float]:
    """Spearman's rho and Kendall's tau between two score lists (NaN with fewer than three)."""
    from scipy.stats import kendalltau, spearmanr

    if len(a) < 3:
        return {"spearman": float("nan"), "kendall": float("nan")}
    return {"spearman": float(spearmanr(a, b).statistic), "kendall": float(kendalltau(a, b).statistic)}


def cached_inputs(movement: str, limit: int | None, store: Path | None, plans: range = PLANS) -> list[tuple]:
    """``event_inputs(measured_truths(movement, limit, plans))``, kept in `store` (a folder, one file per plan) and
    read back from it: they do not depend on the candidate, and finding them is most of the time."""
    import pickle

    from benchmarks.realfaces import measured_truths

    items = []
    for plan in plans[:1] if limit else plans:
        name = f"events_{movement}{'_limit' + str(limit) if limit else ''}_plan{plan + 1}.pkl"
        path = store / name if store else None
        if path is not None and path.is_file():
            items += pickle.loads(path.read_bytes())
            continue
        found = event_inputs(measured_truths(movement, limit, range(plan, plan + 1)))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(found))
        items += found
    return items


def compare(
    checkpoints: dict[str, Path],
    val_cache: Path | None,
    limit: int | None = None,
    val_subjects: list[str] | None = None,
    store: Path | None = None,
    test_subjects: list[str] | None = None,
    plans: range = PLANS,
) -> pd.DataFrame:
    """One row per candidate: its validation figures (on `val_subjects` of the cache, default all), then its
    measured ones for each movement on the injection `plans` (event inputs kept in `store`), then (with
    `test_subjects`) its figures on those held-out synthetic subjects of the same cache. Without `val_cache` the
    measured figures only, calibrated with the card's own temperature (``temperature_from``)."""
    from mer.inference import Predictor

    plans = plans[:1] if limit else plans  # a shortened video is read for its first plan only
    rows = [{"candidate": name, "checkpoint": str(path), "plans": f"{plans[0] + 1}-{plans[-1] + 1}",
             **calibration(path, val_cache, val_subjects)} for name, path in checkpoints.items()]  # fmt: skip
    for movement in MOVEMENTS:  # the real videos are read only now, after every validation figure is fixed
        items = cached_inputs(movement, limit, store, plans)
        first = rows[0]["checkpoint"]
        xs = model_inputs(items, first, store, movement, plans)
        reference = Predictor.from_checkpoint(first)
        key = f"{reference.modality}_{reference.flow}"
        for row in rows:
            got = measured_scores(row["checkpoint"], items, row["val_temperature"], xs, key)
            per_class = json.dumps({k: round(v, 3) for k, v in got["per_class"].items()})
            row.update({f"{movement}_accuracy": got["accuracy"], f"{movement}_n": got["n"],
                        f"{movement}_right": got["right"], f"{movement}_ece_raw": got["ece_raw"],
                        f"{movement}_ece_t": got["ece_t"], f"{movement}_per_class": per_class})  # fmt: skip
    for row in rows if test_subjects else []:
        row.update(heldout_scores(row["checkpoint"], val_cache, test_subjects))
    return pd.DataFrame(rows)


def calibration(checkpoint: Path, val_cache: Path | None, val_subjects: list[str] | None) -> dict[str, Any]:
    """A candidate's validation figures and the temperature fitted there (``validation_scores``), or without a
    validation cache the temperature its card carries (1 when it has none)."""
    if val_cache is not None:
        got = validation_scores(checkpoint, val_cache, val_subjects)
        return {"temperature_from": "validation", **{k: v for k, v in got.items() if k not in ("probs", "labels")}}
    from mer.engine.checkpoint import read_card

    card = read_card(checkpoint)
    return {
        "temperature_from": "card",
        "val_temperature": float((card.get("calibration") or {}).get("temperature", 1.0)),
    }


def combine(paths: list[Path]) -> pd.DataFrame:
    """The ``naming.csv`` tables of separate runs as one (for the rank agreement over all their candidates); they
    must have scored the same validation set (the same ``val_n``) and name each candidate once."""
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    if table["val_n"].nunique() != 1:
        raise ValueError(f"the tables scored validation sets of different sizes: {sorted(set(table['val_n']))}")
    if table["candidate"].duplicated().any():
        raise ValueError(f"a candidate is named twice: {sorted(table['candidate'][table['candidate'].duplicated()])}")
    return table


def agreement(table: pd.DataFrame) -> dict[str, Any]:
    """How the validation accuracy and UF1 rank the candidates against each measured accuracy."""
    out = {}
    for val in ("val_accuracy", "val_uf1", "val_nll"):
        sign = -1 if val == "val_nll" else 1  # a lower NLL is better
        for movement in MOVEMENTS:
            column = f"{movement}_accuracy"
            if column in table and val in table:  # no validation figures without --val-cache
                out[f"{val} vs {column}"] = rank_agreement(list(sign * table[val]), list(table[column]))
    return out


def add_plans_argument(parser: argparse.ArgumentParser) -> None:
    """``--plans FIRST LAST``: the injection plans to measure on (1-based, inclusive)."""
    own = f"default 1 {REPEATS}: benchmarks.realfaces' own"
    parser.add_argument("--plans", type=int, nargs=2, metavar=("FIRST", "LAST"), default=(1, REPEATS),
                        help=f"the injection plans to measure on ({own})")  # fmt: skip


def plan_range(parser: argparse.ArgumentParser, plans: tuple[int, int]) -> range:
    """The 0-based plans of ``--plans FIRST LAST``; a parser error unless 1 <= FIRST <= LAST."""
    first, last = plans
    if not 1 <= first <= last:
        parser.error(f"--plans FIRST LAST: 1 <= FIRST <= LAST, got {first} {last}")
    return range(first - 1, last)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.naming", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--val-cache", type=Path, help="validation cache of training identities (without it: the card's temperature)"
    )
    parser.add_argument("--checkpoints", type=Path, nargs="+", default=[])
    parser.add_argument("--names", nargs="+", help="a short name per checkpoint (default: folder names)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/naming"))
    parser.add_argument("--val-subjects", nargs="+", help="only these subjects of the validation cache")
    parser.add_argument("--test-subjects", nargs="+", help="held-out synthetic subjects of the validation cache")
    parser.add_argument("--epoch-state", type=Path, help="write a candidate from this copy of a run's state.pt")
    parser.add_argument("--card-from", type=Path, help="with --epoch-state: the run's init checkpoint")
    parser.add_argument("--combine", type=Path, nargs="+", help="join these naming.csv tables (same validation set)")
    parser.add_argument("--store", type=Path, default=None, help="keep the events' inputs here (default: OUT)")
    parser.add_argument("--prepare", action="store_true", help="only find and keep the events' inputs")
    parser.add_argument("--limit", type=int, default=None, help="read at most this many frames per video (tests)")
    add_plans_argument(parser)
    args = parser.parse_args(argv)
    store = args.store or args.out
    plans = plan_range(parser, args.plans)
    if args.epoch_state:
        if not args.card_from:
            parser.error("--epoch-state needs --card-from (the run's init checkpoint)")
        print(epoch_checkpoint(args.epoch_state, args.card_from, args.out))
        return 0
    if args.prepare:
        for movement in MOVEMENTS:
            print(movement, len(cached_inputs(movement, args.limit, store, plans)), "events")
        return 0
    started = time.perf_counter()
    if args.combine:
        table = combine(args.combine)
    else:
        names = args.names or [p.name for p in args.checkpoints]
        table = compare(dict(zip(names, args.checkpoints, strict=True)), args.val_cache, args.limit,
                        args.val_subjects, store, args.test_subjects, plans)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "naming.csv", index=False)
    summary = {"agreement": agreement(table), "seconds": round(time.perf_counter() - started, 1),
               "val_cache": str(args.val_cache) if args.val_cache else None,
               "combined": [str(p) for p in args.combine or []]}  # fmt: skip
    (args.out / "agreement.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table.drop(columns=[c for c in table if c.endswith("per_class")]).to_string(index=False))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
