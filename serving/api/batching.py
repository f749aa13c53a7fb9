"""Server-side batching: concurrent requests to the same signature are merged into one call.

Follows TF Serving's BasicBatchScheduler semantics: a batch closes when it reaches
max_batch_size or batch_timeout_micros after its first task; at most max_enqueued_batches wait
per queue (more → RESOURCE_EXHAUSTED); num_batch_threads run batches; a batch is padded up to
the next allowed_batch_sizes entry by repeating its first row; pad_variable_length_inputs pads
inputs of differing non-batch shapes with zeros (else such tasks go into separate batches).
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Mapping
from concurrent import futures

import grpc
import numpy as np

from serving.api.metrics import BATCH_SIZE, Metrics
from serving.config.batching_parameters import BatchingParameters
from serving.core.errors import ServingError, error_from_exception, invalid
from serving.core.loader import Servable

TASK_WAIT_SECONDS = 300.0  # a task never waits forever, even if a batch thread dies


@dataclasses.dataclass
class _Task:
    inputs: Mapping[str, np.ndarray]
    size: int
    # The task's outputs, or the ServingError its batch failed with.
    outputs: futures.Future = dataclasses.field(default_factory=futures.Future)


@dataclasses.dataclass
class _Batch:
    tasks: list[_Task] = dataclasses.field(default_factory=list)
    size: int = 0
    opened: float = dataclasses.field(default_factory=time.monotonic)
    closed: bool = False


class _Queue:
    def __init__(self, servable: Servable, signature: str):
        self.servable = servable
        self.signature = signature
        self.batches: collections.deque[_Batch] = collections.deque()


class BatchScheduler:
    """One scheduler per server; queues per (servable, signature[, input shapes])."""

    def __init__(self, params: BatchingParameters, metrics: Metrics | None = None):
        params.validate()
        self.params = params
        self.metrics = metrics
        self._cond = threading.Condition()
        self._queues: dict[tuple, _Queue] = {}
        self._stopping = False
        self._threads = [threading.Thread(target=self._worker, name=f"batch-{i}", daemon=True)
                         for i in range(params.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def attach(self, servable: Servable) -> None:
        """Routes the servable's signature calls through this scheduler."""
        servable.runner = self.run

    def release(self, servable: Servable) -> None:
        servable.runner = None
        with self._cond:
            for key in [k for k, q in self._queues.items()
                        if q.servable is servable and not q.batches]:
                del self._queues[key]

    def stop(self) -> None:
        """Stops the batch threads; the tasks still queued fail with UNAVAILABLE at once, so
        no caller waits out TASK_WAIT_SECONDS on a batch that will never run."""
        with self._cond:
            self._stopping = True
            pending = [task for queue in self._queues.values() for batch in queue.batches
                       for task in batch.tasks]
            self._queues.clear()
            self._cond.notify_all()
        for task in pending:
            task.outputs.set_exception(_shutting_down())
        for thread in self._threads:
            thread.join(timeout=10)

    def run(self, servable: Servable, signature: str, inputs: Mapping[str, np.ndarray]
            ) -> dict[str, np.ndarray]:
        """The signature's outputs for these inputs, computed as part of a batch (blocks)."""
        outputs = self.submit(servable, signature, inputs)
        if outputs is None:
            return servable.call(signature, inputs)
        try:
            return outputs.result(TASK_WAIT_SECONDS)
        except futures.TimeoutError:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED,
                               "batched request did not complete in time") from None

    def submit(self, servable: Servable, signature: str, inputs: Mapping[str, np.ndarray]
               ) -> futures.Future | None:
        """Queues the inputs into a batch: a future of their outputs (asynchronous servers await
        it), or None when there is nothing to batch along (the caller calls the servable)."""
        arrays = {k: np.asarray(v) for k, v in inputs.items()}
        sizes = {a.shape[0] if a.ndim else None for a in arrays.values()}
        if not arrays or None in sizes or len(sizes) != 1:
            return None
        size = sizes.pop()
        if size > self.params.max_batch_size:
            raise invalid(f"Task size {size} is larger than maximum input batch size "
                          f"{self.params.max_batch_size}")
        if size == 0:
            return None
        servable.signature(signature)  # unknown signature: fail now, not inside a batch
        if self.params.pad_variable_length_inputs:
            shape_key = tuple(sorted((k, a.dtype.str, a.ndim) for k, a in arrays.items()))
        else:
            shape_key = tuple(sorted((k, a.dtype.str, a.shape[1:]) for k, a in arrays.items()))
        key = (id(servable), signature, shape_key)
        task = _Task(inputs=arrays, size=size)
        with self._cond:
            if self._stopping:
                raise _shutting_down()
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(servable, signature)
            batch = queue.batches[-1] if queue.batches else None
            if batch is None or batch.closed or batch.size + size > self.params.max_batch_size:
                if batch is not None:
                    batch.closed = True
                if len(queue.batches) >= self.params.max_enqueued_batches:
                    raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                       "The batch scheduling queue to which this task was "
                                       "submitted is full")
                batch = _Batch()
                queue.batches.append(batch)
            batch.tasks.append(task)
            batch.size += size
            if batch.size >= self.params.max_batch_size:
                batch.closed = True
            self._cond.notify()
        return task.outputs

    def _ready_batch(self) -> tuple[_Queue | None, _Batch | None, float]:
        """The oldest batch that is full or timed out; else how long until one may be."""
        timeout = self.params.batch_timeout_micros / 1e6
        now = time.monotonic()
        best, wait = None, None
        for queue in self._queues.values():
            if not queue.batches:
                continue
            batch = queue.batches[0]
            due = batch.opened + timeout
            if batch.closed or due <= now or len(queue.batches) > 1:
                if best is None or batch.opened < best[1].opened:
                    best = (queue, batch)
            else:
                wait = due - now if wait is None else min(wait, due - now)
        if best is not None:
            best[0].batches.popleft()
            return best[0], best[1], 0.0
        return None, None, wait if wait is not None else 1.0

    def _worker(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    queue, batch, wait = self._ready_batch()
                    if batch is not None:
                        break
                    self._cond.wait(wait)
            self._process(queue, batch)

    def _process(self, queue: _Queue, batch: _Batch) -> None:
        try:
            merged, padded = self._merge(batch)
            if self.metrics is not None:
                self.metrics.observe(BATCH_SIZE, (("model_name", queue.servable.name),),
                                     padded)
            outputs = queue.servable.call(queue.signature, merged)
            for name, value in outputs.items():
                if value.ndim == 0 or value.shape[0] != padded:
                    raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                                       f"Batched output tensor {name} has leading dimension "
                                       f"{value.shape[0] if value.ndim else 0}, expected "
                                       f"{padded}")
        except Exception as e:  # noqa: BLE001 - every task must learn the batch's fate
            error = error_from_exception(e)
            for task in batch.tasks:
                task.outputs.set_exception(error)
            return
        offset = 0
        for task in batch.tasks:
            task.outputs.set_result({name: value[offset:offset + task.size]
                                     for name, value in outputs.items()})
            offset += task.size

    def _merge(self, batch: _Batch) -> tuple[dict[str, np.ndarray], int]:
        total = batch.size
        padded = next((s for s in self.params.allowed_batch_sizes if s >= total), total)
        merged = {}
        for name in batch.tasks[0].inputs:
            parts = [t.inputs[name] for t in batch.tasks]
            if self.params.pad_variable_length_inputs:
                parts = _pad_to_common_shape(parts)
            if padded > total:
                first = parts[0][:1]
                parts.append(np.repeat(first, padded - total, axis=0))
            merged[name] = np.concatenate(parts, axis=0)
        return merged, padded


def _shutting_down() -> ServingError:
    return ServingError(grpc.StatusCode.UNAVAILABLE, "The server is shutting down")


def _pad_to_common_shape(parts: list[np.ndarray]) -> list[np.ndarray]:
    target = np.max([p.shape[1:] for p in parts], axis=0) if parts[0].ndim > 1 else None
    if target is None:
        return parts
    out = []
    for p in parts:
        widths = [(0, 0)] + [(0, int(t) - s) for t, s in zip(target, p.shape[1:], strict=True)]
        fill = b"" if p.dtype == object else 0
        out.append(np.pad(p, widths, constant_values=fill) if any(w for _, w in widths) else p)
    return out
