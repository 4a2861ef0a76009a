"""Where a study's points are solved: executors registered by name behind one small interface.

    executor = open_executor("pool", workers=2)       # or "serial", or "ray" (address=...)
    for rows in executor.run(evaluate_batch, task, batches):   # in completion order
        ...
    executor.close()

- `serial`: in this process (tests, debugging, a single point);
- `pool` (the default): a local process pool over all cores (`concurrent.futures`);
- `ray`: Ray tasks, on a local Ray started for the study or on the cluster at `address` (the
  optional extra: `pip install 'kei[ray]'`).

Nothing here schedules: the pool and Ray do. An executor only keeps a bounded number of batches in
flight (so an interrupted study has lost little work) and yields each batch's rows as it completes.
The task (the parsed inputs) is sent to each worker once, not with every batch.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterable, Iterator

from kei.errors import EXIT_DEVICE, KeiError, UsageError
from kei.resources import CONFIG_DIR_ENV

IN_FLIGHT_PER_WORKER = 2  # batches queued per worker: one running, one ready, so no worker waits
SINGLE_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class ClusterUnavailable(KeiError):
    """The Ray cluster cannot be reached (exit code 5: a device or link is unavailable)."""

    exit_code = EXIT_DEVICE


class Executor:
    """The interface: `workers`, `run(fn, task, batches)` yielding fn(task, batch) per batch, `close()`."""

    name = ""
    workers = 1

    def run(self, fn: Callable, task, batches: Iterable[list]) -> Iterator[list]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialExecutor(Executor):
    name = "serial"

    def __init__(self, workers: int | None = None, **_):
        if workers not in (None, 1):
            raise UsageError("--workers", "the serial executor runs one point at a time")

    def run(self, fn, task, batches):
        for batch in batches:
            yield fn(task, batch)


_WORKER_TASK = None


def _init_pool_worker(task) -> None:
    global _WORKER_TASK
    _WORKER_TASK = task


def _pool_call(fn, batch):
    return fn(_WORKER_TASK, batch)


class PoolExecutor(Executor):
    """A local process pool. Workers are spawned (not forked: the driver may run threads, a progress
    bar's among them) and receive the task once, at start."""

    name = "pool"

    def __init__(self, workers: int | None = None, **_):
        self.workers = workers or os.cpu_count() or 1
        self._pool = None
        self._task_id = None

    def _ensure(self, task):
        if self._pool is None or self._task_id != id(task):
            self.close()
            # Each worker is one single-threaded process (as Ray's are): the numeric libraries' own
            # thread pools would only compete with the other workers for the cores. The variables
            # are read when a worker starts, so every worker is started here, then they are restored.
            saved = {var: os.environ.get(var) for var in SINGLE_THREAD_VARS}
            os.environ.update({var: "1" for var in SINGLE_THREAD_VARS if saved[var] is None})
            try:
                self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_init_pool_worker,
                                                 initargs=(task,), mp_context=multiprocessing.get_context("spawn"))
                wait([self._pool.submit(os.getpid) for _ in range(self.workers)])
            finally:
                for var, value in saved.items():
                    if value is None:
                        os.environ.pop(var, None)
            self._task_id = id(task)
        return self._pool

    def run(self, fn, task, batches):
        pool = self._ensure(task)
        pending = set()
        batches = iter(batches)
        limit = self.workers * IN_FLIGHT_PER_WORKER
        try:
            while True:
                while len(pending) < limit:
                    batch = next(batches, None)
                    if batch is None:
                        break
                    pending.add(pool.submit(_pool_call, fn, batch))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Ray tasks. Without an address a local Ray is started with `workers` CPUs (all cores by
    default) and stopped at close; with one, the study joins that cluster (`auto` finds a running
    local one). The task is put into Ray's object store once and fetched by each worker process
    once (workers keep it between batches)."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, **_):
        try:
            import ray
        except ImportError as err:
            raise UsageError("--executor", "ray is not installed; install the extra: pip install 'kei[ray]'") from err
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            env = {CONFIG_DIR_ENV: os.environ[CONFIG_DIR_ENV]} if os.environ.get(CONFIG_DIR_ENV) else {}
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if env:
                kwargs["runtime_env"] = {"env_vars": env}
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=workers or os.cpu_count() or 1, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise ClusterUnavailable(f"--address {address}: cannot join the Ray cluster: {err}") from err
            self._started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._remote = ray.remote(_ray_call)
        self._task_ref = None
        self._task_id = None

    def run(self, fn, task, batches):
        ray = self._ray
        if self._task_id != id(task):
            self._task_ref, self._task_id = ray.put(task), id(task)
        key = getattr(task, "key", str(id(task)))
        pending = []
        batches = iter(batches)
        limit = self.workers * IN_FLIGHT_PER_WORKER
        try:
            while True:
                while len(pending) < limit:
                    batch = next(batches, None)
                    if batch is None:
                        break
                    # The task goes inside a list so Ray passes the reference, not the object: a
                    # worker fetches it only the first time it meets this study.
                    pending.append(self._remote.remote(fn, key, [self._task_ref], batch))
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self):
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False


_RAY_TASKS: dict = {}


def _ray_call(fn, key, boxed_task, batch):
    task = _RAY_TASKS.get(key)
    if task is None:
        import ray

        _RAY_TASKS.clear()
        task = _RAY_TASKS[key] = ray.get(boxed_task[0])
    return fn(task, batch)


EXECUTORS: dict[str, type[Executor]] = {"serial": SerialExecutor, "pool": PoolExecutor, "ray": RayExecutor}


def open_executor(name: str = "pool", *, workers: int | None = None, address: str | None = None) -> Executor:
    check_executor(name, workers=workers, address=address)
    return EXECUTORS[name](workers=workers, address=address)


def check_executor(name: str, *, workers: int | None = None, address: str | None = None) -> None:
    """The options an executor will be opened with, checked before any work starts."""
    if name not in EXECUTORS:
        raise UsageError("--executor", f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise UsageError("--workers", f"must be at least 1, got {workers}")
    if address and name != "ray":
        raise UsageError("--address", "only the ray executor joins a cluster (--executor ray)")
