"""The worker threads of the fused sparse kernels: who runs a slice, with how many torch threads, and errors."""

import threading

import pytest
import torch

from helpers import torch_threads
from sparsecast.attention.workers import run_slices


def _record(calls: list):
    def work(i):
        calls.append((i, threading.current_thread().name.split("_")[0], torch.get_num_threads()))
    return work


def test_two_slices_per_thread_run_on_one_thread_workers_and_fewer_in_turn():
    many, few = [], []
    with torch_threads(2):
        run_slices(_record(many), [(i,) for i in range(4)])
        run_slices(_record(few), [(i,) for i in range(3)])
    assert sorted(i for i, _, _ in many) == [0, 1, 2, 3]
    assert {(name, n) for _, name, n in many} == {("sparsecast-slices", 1)}
    assert {(name, n) for _, name, n in few} == {(threading.current_thread().name.split("_")[0], 2)}


def test_the_caller_and_threads_started_later_keep_the_callers_thread_count():
    """A worker's set_num_threads(1) also sets the count ATen gives threads started later: the pool puts it back."""
    seen = []

    def later():
        thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        thread.start()
        thread.join()

    with torch_threads(3):  # a pool of three, made here unless an earlier test made it
        run_slices(lambda i: None, [(i,) for i in range(6)])
        later()
        assert torch.get_num_threads() == 3
    assert seen == [3]


def test_a_workers_error_is_raised_after_every_slice_ended():
    done = []

    def work(i):
        if i == 1:
            raise ValueError("slice 1 failed")
        done.append(i)

    with pytest.raises(ValueError, match="slice 1 failed"):
        with torch_threads(2):
            run_slices(work, [(i,) for i in range(6)])
    assert sorted(done) == [0, 2, 3, 4, 5]


def test_workers_take_the_callers_grad_and_inference_mode():
    modes = []

    def work(i):
        modes.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))

    with torch_threads(2):
        with torch.no_grad():
            run_slices(work, [(i,) for i in range(4)])
        with torch.inference_mode():
            run_slices(work, [(i,) for i in range(4)])
        run_slices(work, [(i,) for i in range(4)])
    assert modes == [(False, False)] * 4 + [(False, True)] * 4 + [(True, False)] * 4
