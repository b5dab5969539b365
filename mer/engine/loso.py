"""Subject-disjoint splits: leave-one-subject-out folds, a held-out set of subjects, validation subjects.

Every split is made of whole subjects, so no person is ever on both sides; validation subjects are drawn from
a fold's training subjects only, with a seed of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mer.errors import InputError


@dataclass(frozen=True)
class Fold:
    """One train/test split. ``val_subjects`` are taken out of the training subjects (may be empty)."""

    index: int
    test_subjects: tuple[str, ...]
    train_subjects: tuple[str, ...]
    val_subjects: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def roles(self) -> dict[str, tuple[str, ...]]:
        """``{"train": ..., "val": ..., "test": ...}`` subjects."""
        return {"train": self.train_subjects, "val": self.val_subjects, "test": self.test_subjects}

    def check_disjoint(self) -> Fold:
        """ValueError when a subject is in two roles (the guarantee every figure relies on); returns self."""
        test, train, val = set(self.test_subjects), set(self.train_subjects), set(self.val_subjects)
        shared = (test & (train | val)) | (train & val)
        if shared:
            raise ValueError(f"fold {self.index}: subjects {sorted(shared)} are in more than one of train/val/test")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> Fold:
        return cls(
            index=int(d["index"]),
            test_subjects=tuple(d["test_subjects"]),
            train_subjects=tuple(d["train_subjects"]),
            val_subjects=tuple(d.get("val_subjects", ())),
        ).check_disjoint()


def loso_folds(subjects: list[str]) -> list[Fold]:
    """One fold per subject (sorted by name): fold k tests subject k and trains on all the others."""
    subs = sorted(set(subjects))
    if len(subs) < 2:
        raise InputError(f"leave-one-subject-out needs at least 2 subjects, the cache has {len(subs)}")
    return [Fold(k, (s,), tuple(t for t in subs if t != s)) for k, s in enumerate(subs)]


def holdout_fold(subjects: list[str], n_test: int = 0, seed: int = 0) -> Fold:
    """Hold out ``n_test`` subjects (0: a fifth, at least one) drawn with ``seed``; train on the rest."""
    subs = sorted(set(subjects))
    n_test = n_test or max(1, round(len(subs) / 5))
    if not 1 <= n_test < len(subs):
        raise InputError(
            f"cannot hold out {n_test} of {len(subs)} subjects; hold out at least 1 and leave some for training"
        )
    picked = set(np.random.default_rng(seed).choice(subs, size=n_test, replace=False).tolist())
    return Fold(0, tuple(s for s in subs if s in picked), tuple(s for s in subs if s not in picked))


def with_validation(fold: Fold, n_val: int, seed: int = 0) -> Fold:
    """Move ``n_val`` training subjects (drawn with ``seed`` and the fold index) to validation."""
    if n_val == 0:
        return fold
    if n_val >= len(fold.train_subjects):
        raise InputError(
            f"fold {fold.index} has {len(fold.train_subjects)} training subjects; cannot take "
            f"{n_val} for validation and still train"
        )
    rng = np.random.default_rng([seed, fold.index])
    val = set(rng.choice(list(fold.train_subjects), size=n_val, replace=False).tolist())
    return Fold(
        fold.index,
        fold.test_subjects,
        tuple(s for s in fold.train_subjects if s not in val),
        tuple(s for s in fold.train_subjects if s in val),
    )


def make_folds(
    subjects: list[str],
    protocol: str,
    *,
    holdout_subjects: int = 0,
    val_subjects: int = 0,
    split_seed: int = 0,
) -> list[Fold]:
    """The folds of a protocol ("loso" or "holdout"), each with its validation subjects."""
    if protocol == "loso":
        folds = loso_folds(subjects)
    elif protocol == "holdout":
        folds = [holdout_fold(subjects, holdout_subjects, split_seed)]
    else:
        raise InputError(f"unknown protocol {protocol!r}; use loso or holdout")
    # the invariant everything else relies on, checked even under python -O
    return [with_validation(f, val_subjects, split_seed).check_disjoint() for f in folds]
