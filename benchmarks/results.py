"""Where every benchmark writes what it measured: benchmarks/results/<name>.{json,md}."""
from __future__ import annotations

import json
import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def write(name: str, report: dict, table: str) -> str:
    """Writes the JSON report and the markdown table; returns the results directory."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write(table + "\n")
    return RESULTS
