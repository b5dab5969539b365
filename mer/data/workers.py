"""Worker processes for the data commands (`mer preprocess`, `mer synth`): one per core, OpenCV on one thread."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def process_pool(workers: int, preload: list[str]) -> ProcessPoolExecutor:
    """``workers`` processes forked from a clean server process that has the ``preload`` modules imported once.

    A plain fork of this process can deadlock (it may run threads: tqdm's monitor, OpenCV's, torch's), and
    spawn would import torch (via `import mer`) once per worker.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_one_opencv_thread)


def _one_opencv_thread() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would only compete
