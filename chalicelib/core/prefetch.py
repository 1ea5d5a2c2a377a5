"""Iterate in a background thread, one item ahead of the consumer (parse or read while the caller works)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any


def prefetched[T](items: Iterable[T]) -> Iterator[T]:
    """`items`, produced in a thread one item ahead of the consumer (parse while the writer compresses).

    Memory: one item more. An exception in the producer is raised here; closing this iterator
    (the consumer failed) stops the producer after its current item.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put(("item", item), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(("end", None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            handoff.put(("error", error))

    worker = threading.Thread(target=produce, name="lake-rows", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting to hand over
            try:
                handoff.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()
