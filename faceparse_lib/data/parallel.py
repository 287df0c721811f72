"""Process pools shared by the kit: how many workers to use (one rule), and ordered and unordered maps."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# More processes than this rarely pays off for file work (decoding is fast; the disk is the limit).
MAX_DEFAULT_WORKERS = 8
WORKERS_HELP = (
    f"worker processes (default: the CPU cores available, at most {MAX_DEFAULT_WORKERS}; 0 or 1 = in this process)"
)


def default_workers(cap: int = MAX_DEFAULT_WORKERS) -> int:
    """The CPU cores this process may run on, at most `cap`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, cap))


def resolve_workers(workers: int | None, jobs: int, min_jobs_per_worker: int = 1) -> int:
    """Processes to use for `jobs` jobs: `workers` (None = default_workers(); 0 or less = 1, in-process),
    never more than one per `min_jobs_per_worker` jobs, since a pool costs more to start than a few jobs save."""
    wanted = default_workers() if workers is None else max(1, int(workers))
    return max(1, min(wanted, jobs // max(1, min_jobs_per_worker)))


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int, chunksize: int = 1) -> Iterator[R]:
    """`map(fn, items)` in order, in this process when `workers` <= 1, else over a pool of processes."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
        yield from pool.map(fn, items, chunksize=chunksize)


def parallel_map_unordered(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`fn` of every item, yielded as each finishes; the first error cancels what has not started and is raised."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
        pending = {pool.submit(fn, item) for item in items}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise error
                yield future.result()
