"""Where every benchmark writes what it measured: benchmarks/results/<name>.{json,md}.

Each results file says how it was made. `write()` puts a header on the markdown and a `run`
object in the JSON: the date (UTC), the machine (CPU model, cores, memory), the load average
when the run started and when it wrote its results, the wall time between them, the Python,
TensorFlow and TFX versions and the exact command line. The start is taken when the
`benchmarks` package is imported, i.e. when `python -m benchmarks.NAME` starts.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
import time
from importlib import metadata

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

_STARTED = {"utc": datetime.datetime.now(datetime.timezone.utc),
            "monotonic": time.monotonic(), "load_average": os.getloadavg()}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _command(name: str) -> str:
    """The command as it was typed: `python -m benchmarks.NAME args...`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    module = spec.name if spec is not None and spec.name else f"benchmarks.{name}"
    return shlex.join(["python", "-m", module, *sys.argv[1:]])


def run_metadata(name: str) -> dict:
    """How this run was made, as of now (its end)."""
    end = datetime.datetime.now(datetime.timezone.utc)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {
        "benchmark": name,
        "command": _command(name),
        "started_utc": _STARTED["utc"].isoformat(timespec="seconds"),
        "finished_utc": end.isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - _STARTED["monotonic"]),
        "cpu_model": _cpu_model(),
        "cpu_cores": cores,
        "memory_gib": _memory_gib(),
        "load_average_start": [round(v, 2) for v in _STARTED["load_average"]],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow"),
        "tfx": _version("tfx"),
        "platform": platform.platform(),
    }


def header(run: dict) -> str:
    """The markdown lines that open every results file."""
    minutes, seconds = divmod(run["wall_seconds"], 60)
    load = lambda values: " / ".join(f"{v:.2f}" for v in values)  # noqa: E731
    memory = f", {run['memory_gib']} GiB memory" if run.get("memory_gib") else ""
    lines = [
        f"# Benchmark: {run['benchmark']}", "",
        f"- Command: `{run['command']}`",
        f"- Date: {run['started_utc'].replace('+00:00', 'Z')} to "
        f"{run['finished_utc'].replace('+00:00', 'Z')} (UTC); wall time {minutes} min {seconds} s",
        f"- Machine: {run['cpu_model']}, {run['cpu_cores']} cores{memory}",
        f"- Load average (1 / 5 / 15 min): {load(run['load_average_start'])} at the start, "
        f"{load(run['load_average_end'])} at the end",
        f"- Python {run['python']}, TensorFlow {run['tensorflow']}, TFX {run['tfx']}",
    ]
    if run.get("rendered_by"):
        lines.append(f"- Re-rendered from the saved JSON by `{run['rendered_by']}`")
    return "\n".join(lines) + "\n"


def write(name: str, report: dict, table: str) -> str:
    """Writes the JSON report and the markdown table, each with the run's metadata (a `run`
    object in the JSON, a header in the markdown); returns the results directory.

    A report that already holds a `run` (one re-rendered from its saved JSON) keeps it: the
    figures are that run's."""
    os.makedirs(RESULTS, exist_ok=True)
    saved = report.get("run")
    this_run = _STARTED["utc"].isoformat(timespec="seconds")
    if isinstance(saved, dict) and saved.get("command") and saved.get("started_utc") != this_run:
        run = dict(saved, rendered_by=_command(name))
    else:
        run = run_metadata(name)
    report = {"run": run, **{k: v for k, v in report.items() if k != "run"}}
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write(header(run) + "\n" + table.rstrip("\n") + "\n")
    return RESULTS
