"""Prometheus metrics in the text exposition format, named like TF Serving's."""
from __future__ import annotations

import bisect
import threading
from collections import defaultdict

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
BATCH_SIZE = ":tensorflow:serving:batching_session:processed_batch_size"
LOADED_VERSIONS = ":tensorflow:serving:model_versions_available"

# Microseconds, as TF Serving's request_latency histogram.
LATENCY_BUCKETS_US = [50.0 * 1.5 ** i for i in range(25)]
BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               for _, v in pairs)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(pairs, escaped, strict=True)) + "}"


class Metrics:
    """Counters and histograms keyed by label tuples; render() gives the exposition text."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[tuple, int] = defaultdict(int)
        self._hists: dict[str, dict[tuple, list]] = defaultdict(dict)
        self._buckets = {REQUEST_LATENCY: LATENCY_BUCKETS_US, BATCH_SIZE: BATCH_BUCKETS}
        self._gauges: dict[tuple, float] = {}

    def count_request(self, model: str, version: str, api: str, entrypoint: str, status: str,
                      latency_us: float) -> None:
        key = (("model_name", model), ("model_version", version), ("API", api),
               ("entrypoint", entrypoint), ("status", status))
        with self._lock:
            self._counts[key] += 1
        self.observe(REQUEST_LATENCY, key[:4], latency_us)

    def record_request(self, entrypoint: str, model: str, api: str, http_status: int,
                       version: str, seconds: float) -> None:
        """One finished request; `version` is the version that answered ("" when none did)."""
        status = "OK" if http_status == 200 else str(http_status)
        self.count_request(model or "", version, api, entrypoint, status, seconds * 1e6)

    def observe(self, name: str, labels: tuple, value: float) -> None:
        buckets = self._buckets[name]
        with self._lock:
            hist = self._hists[name].get(labels)
            if hist is None:
                hist = self._hists[name][labels] = [[0] * (len(buckets) + 1), 0.0, 0]
            hist[0][bisect.bisect_left(buckets, value)] += 1
            hist[1] += value
            hist[2] += 1

    def set_gauge(self, labels: tuple, value: float) -> None:
        with self._lock:
            self._gauges[labels] = value

    def render(self) -> str:
        lines = []
        with self._lock:
            lines.append(f"# TYPE {REQUEST_COUNT} counter")
            for key, value in sorted(self._counts.items()):
                lines.append(f"{REQUEST_COUNT}{_labels(key)} {value}")
            for name in (REQUEST_LATENCY, BATCH_SIZE):
                lines.append(f"# TYPE {name} histogram")
                buckets = self._buckets[name]
                for labels, (counts, total, n) in sorted(self._hists[name].items()):
                    running = 0
                    for bound, count in zip(buckets, counts, strict=False):
                        running += count
                        le = (("le", f"{bound:g}"),)
                        lines.append(f"{name}_bucket{_labels(labels + le)} {running}")
                    lines.append(f'{name}_bucket{_labels(labels + (("le", "+Inf"),))} {n}')
                    lines.append(f"{name}_sum{_labels(labels)} {total:g}")
                    lines.append(f"{name}_count{_labels(labels)} {n}")
            if self._gauges:
                lines.append(f"# TYPE {LOADED_VERSIONS} gauge")
                for labels, value in sorted(self._gauges.items()):
                    lines.append(f"{LOADED_VERSIONS}{_labels(labels)} {value:g}")
        return "\n".join(lines) + "\n"
