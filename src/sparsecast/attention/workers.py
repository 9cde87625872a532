"""Worker threads for the fused sparse kernels: independent slices of the batch and heads, one torch thread each.

PyTorch's CPU flash-attention kernel parallelizes each call over its own threads, which pays poorly on the small
tiles of the strided and fixed patterns: on two cores its two threads gained 1.4x over one on tiles of 16 blocks of
256 queries (13.3 against 9.6 ms forward+backward), while two workers, each running whole slices on one thread,
gained about 1.8x (fixed, L = 8192, B 8, H 8: about 3.4 s on one thread, 1.9 s on two workers). With one slice per
worker they lost instead: the Sparse Transformer at context 4096 (B 1, H 4, D 32: two slices of two heads), fixed
forward+backward 30 ms in turn against 37 ms on two workers, whose many small calls contend for the interpreter; so
workers take over from two slices per worker (at 16384, four slices of one head, a training step took 13% less).

Per-thread state a worker must match: its torch (OpenMP) thread count is its own, set once when the pool starts;
grad mode and inference mode are taken from the caller at every call.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import torch

_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}  # (process, torch threads) -> that many one-thread workers
_LOCK = threading.Lock()


def _start(barrier: threading.Barrier) -> None:
    torch.get_num_threads()  # ATen sets a new thread's count once, lazily, from the global one: let it happen now,
    torch.set_num_threads(1)  # then give this worker one thread (OpenMP's count is per thread)
    barrier.wait()  # n of these on n distinct threads: every worker has started before the pool is used


def _pool(n: int) -> ThreadPoolExecutor:
    """The process's pool of n one-thread workers, started at once (a forked child starts its own)."""
    key = (os.getpid(), n)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = ThreadPoolExecutor(n, thread_name_prefix="sparsecast-slices")
            barrier = threading.Barrier(n, timeout=60)
            try:
                for future in [pool.submit(_start, barrier) for _ in range(n)]:
                    future.result()
            finally:
                torch.set_num_threads(n)  # the workers' set_num_threads(1) also set the count new threads start from
            _POOLS[key] = pool
    return pool


def run_slices(work, slices: list) -> None:
    """Call ``work(*s)`` for every s in ``slices``: on n one-thread workers (n = torch's threads) when there are at
    least two slices per worker, else in turn on this thread (its kernels on its n threads). The calls must write
    disjoint memory. A worker's error is raised here once every call has ended."""
    n = torch.get_num_threads()
    if n < 2 or len(slices) < 2 * n:
        for s in slices:
            work(*s)
        return
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def run(*s) -> None:
        if inference:
            with torch.inference_mode():  # tensors made in inference mode can only be written in it
                work(*s)
        else:
            with torch.set_grad_enabled(grad):
                work(*s)

    futures = [_pool(n).submit(run, *s) for s in slices]
    try:
        done, _ = wait(futures)
    except BaseException:  # interrupted: start nothing more
        for future in futures:
            future.cancel()
        raise
    for future in done:
        future.result()
