"""parallel: one worker-count rule, ordered and unordered maps that stay in-process for one worker."""

import os

import pytest

from faceparse_lib.data.parallel import (
    MAX_DEFAULT_WORKERS,
    WORKERS_HELP,
    default_workers,
    parallel_map,
    parallel_map_unordered,
    resolve_workers,
)


def test_default_workers_is_the_available_cores_capped():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers() == min(cores, MAX_DEFAULT_WORKERS)
    assert default_workers(cap=1) == 1


def test_help_text_states_the_true_default():
    assert f"at most {MAX_DEFAULT_WORKERS}" in WORKERS_HELP and "0 or 1 = in this process" in WORKERS_HELP


@pytest.mark.parametrize(
    "workers, jobs, per_worker, expected",
    [
        (4, 100, 1, 4),  # as asked
        (0, 100, 1, 1),  # 0 = in this process
        (-3, 100, 1, 1),
        (8, 3, 1, 3),  # never more processes than jobs
        (8, 40, 16, 2),  # at least `per_worker` jobs each
        (8, 5, 16, 1),
        (4, 0, 1, 1),
    ],
)
def test_resolve_workers_clamps_by_one_rule(workers, jobs, per_worker, expected):
    assert resolve_workers(workers, jobs, per_worker) == expected


def test_resolve_workers_defaults_to_default_workers():
    assert resolve_workers(None, 1000) == default_workers()


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_map_keeps_the_order_of_the_items(workers):
    assert list(parallel_map(abs, range(0, -20, -1), workers, chunksize=3)) == list(range(20))


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_map_unordered_yields_every_result_once(workers):
    assert sorted(parallel_map_unordered(abs, range(0, -20, -1), workers)) == list(range(20))


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_map_unordered_raises_the_first_error_of_a_worker(workers):
    with pytest.raises(ValueError, match="invalid literal"):
        list(parallel_map_unordered(int, ["1", "2", "x", "4"], workers))
