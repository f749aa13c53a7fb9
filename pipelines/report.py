"""The end-of-run report: metrics, blessing, model size, where the pushed model is, how to serve."""
from __future__ import annotations

import json
import os

from models.artifacts import SERVING_DIR
from models.evaluation_hook import BASELINE_PREFIX
from pipelines.metadata import RunSummary, load_metrics


def directory_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


def build(run: RunSummary, headline_metric: str, serve_command: str) -> dict:
    metrics = load_metrics(run.evaluation_uri) if run.evaluation_uri else {}
    model_dir = os.path.join(run.model_uri, SERVING_DIR) if run.model_uri else None
    return {
        "pipeline": run.pipeline, "run_id": run.run_id, "status": run.status,
        "metrics": metrics.get("overall", {}),
        "per_slice": {k: v for k, v in metrics.items() if k != "overall"},
        "headline_metric": headline_metric, "blessed": run.blessed,
        "blessing_message": run.blessing_message,
        "infra_validated": run.infra_blessed, "infra_validation": run.infra_reason,
        "model_size_bytes": directory_size(model_dir) if model_dir and os.path.isdir(model_dir)
        else None,
        "pushed_to": run.pushed_to,
        "serve_command": serve_command if run.pushed_to else None,
        "mobile": run.mobile_results,
        "mobile_pushed_to": run.mobile_pushed_to,
    }


def render(report: dict) -> str:
    lines = [f"\n{report['pipeline']} — run {report['run_id']}: {report['status']}", ""]
    metrics = report["metrics"]
    headline = report["headline_metric"]
    model = {k: v for k, v in metrics.items() if not k.startswith(BASELINE_PREFIX)}
    if model:
        lines.append("| metric | value |")
        lines.append("| --- | ---: |")
        for name, value in sorted(model.items()):
            lines.append(f"| {name} | {value:.4f} |" if name != "example_count"
                         else f"| {name} | {int(value)} |")
        lines.append("")
    baselines = {k[len(BASELINE_PREFIX):-len(headline) - 1]: v for k, v in metrics.items()
                 if k.startswith(BASELINE_PREFIX) and k.endswith("/" + headline)}
    if baselines and headline in model:
        lines.append(f"{headline} beside its baselines (same eval split): model "
                     f"{model[headline]:.4f}, " + ", ".join(
                         f"{name.replace('_', '-')} {value:.4f}"
                         for name, value in sorted(baselines.items())))
    if report["per_slice"]:
        worst = sorted(report["per_slice"].items(), key=lambda kv: kv[1].get(headline, 0))[:3]
        lines.append("weakest slices: " + ", ".join(
            f"{k} {v.get(headline, float('nan')):.3f}" for k, v in worst))
    if report["model_size_bytes"] is not None:
        lines.append(f"model size: {report['model_size_bytes'] / 1e6:.2f} MB (SavedModel)")
    blessed = {True: "yes", False: "NO (below threshold or worse than the last blessed model)",
               None: "not evaluated"}[report["blessed"]]
    if report["blessed"] is False and report.get("blessing_message"):
        blessed = f"NO: {report['blessing_message']}"
    lines.append(f"blessed: {blessed}")
    if report["infra_validated"] is not None:
        verdict = "yes" if report["infra_validated"] else "NO"
        lines.append(f"infra-validated: {verdict} ({report['infra_validation']})")
    if report["pushed_to"]:
        lines.append(f"pushed to: {report['pushed_to']}")
        lines.append(f"serve it: {report['serve_command']}")
    else:
        lines.append("pushed: nothing (only models blessed by the Evaluator and the infra "
                     "validation are pushed)")
    lines += _render_mobile(report)
    return "\n".join(lines)


def _render_mobile(report: dict) -> list[str]:
    """The fidelity gate's table: each TFLite variant next to the float model."""
    mobile = report.get("mobile")
    if not mobile:
        return []
    reference = mobile["reference_metric"]
    lines = ["", f"TFLite variants on LiteRT ({mobile['eval_examples']} eval examples, "
             f"1 thread; float model {mobile['metric_name']} {reference:.4f}):", "",
             "| variant | metric | drop | size MB | gzip MB | p50 ms | p90 ms | blessed |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, r in mobile["variants"].items():
        verdict = "yes" if r["blessed"] else "no: " + "; ".join(r["reasons"])
        lines.append(f"| {name} | {r['metric']:.4f} | {reference - r['metric']:+.4f} "
                     f"| {r['size_bytes'] / 1e6:.3f} | {r['gzip_bytes'] / 1e6:.3f} "
                     f"| {r['latency_p50_ms']:.3f} | {r['latency_p90_ms']:.3f} | {verdict} |")
    lines += [f"note: {m}" for m in mobile.get("messages", [])]
    lines.append(f"mobile bundle: {report['mobile_pushed_to']}" if report.get("mobile_pushed_to")
                 else "mobile bundle: nothing pushed")
    return lines


def write(report: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=2, default=str)
