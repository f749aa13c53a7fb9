"""Reading runs and their results back from ML Metadata."""
from __future__ import annotations

import dataclasses
import json
import os

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from models.evaluation_hook import REPORT_FILE

_STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class EvaluationSummary:
    """What the Evaluator found, read without TensorFlow (see evaluation_summary)."""

    metric: str | None = None  # the headline metric the blessing is decided on
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)  # the model's, overall
    # The baselines' metrics on the same split, {name: {metric: value}}.
    baselines: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    best_baseline: str | None = None  # the baseline the blessing compared against


@dataclasses.dataclass
class RunSummary:
    pipeline: str
    run_id: str
    started: float  # seconds since the epoch
    status: str  # COMPLETE, FAILED, RUNNING
    components: dict[str, str]  # node id → execution state
    blessed: bool | None
    pushed_to: str | None
    evaluation_uri: str | None
    model_uri: str | None
    # The model server loaded the candidate and answered its warm-up (None: not checked).
    infra_blessed: bool | None = None
    infra_reason: str | None = None
    mobile_results: dict | None = None  # the FidelityGate's per-variant results
    mobile_pushed_to: str | None = None
    # Why the Evaluator did not bless the model, in one line (FamilyEvaluator's reasons).
    blessing_message: str | None = None
    evaluation: EvaluationSummary = dataclasses.field(default_factory=EvaluationSummary)


_BASELINE_COLUMN = " baseline"


def evaluation_summary(properties, evaluation_uri: str | None) -> EvaluationSummary:
    """The headline metric, the model's overall metrics and the baselines' of an evaluation.

    From the ModelEvaluation's custom properties (FamilyEvaluator records them); for runs
    recorded before it did, from the `report.md` table beside the TFMA records. Neither needs
    TensorFlow, so `shipyard runs` answers quickly. Nothing known: an empty summary."""
    if "metrics" in properties:
        recorded = json.loads(properties["metrics"].string_value)
        return EvaluationSummary(
            properties["metric"].string_value if "metric" in properties else None,
            recorded["overall"], recorded["baselines"],
            properties["best_baseline"].string_value if "best_baseline" in properties
            else None)
    if evaluation_uri and os.path.isfile(os.path.join(evaluation_uri, REPORT_FILE)):
        with open(os.path.join(evaluation_uri, REPORT_FILE)) as f:
            return parse_report(f.read())
    return EvaluationSummary()


def parse_report(text: str) -> EvaluationSummary:
    """The metrics table of components/family_evaluator.render_markdown, read back (which
    baseline is best is not in it)."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    if len(rows) < 2 or rows[0][:2] != ["metric", "model"]:
        return EvaluationSummary()
    header = rows[0]
    overall: dict[str, float] = {}
    baselines: dict[str, dict[str, float]] = {}
    for row in rows[2:]:
        for column, cell in zip(header[1:], row[1:], strict=False):
            try:
                value = float(cell)
            except ValueError:
                continue  # "-": not reported
            if column == "model":
                overall[row[0]] = value
            elif column.endswith(_BASELINE_COLUMN):
                name = column[:-len(_BASELINE_COLUMN)].replace("-", "_")
                baselines.setdefault(name, {})[row[0]] = value
    # The verdict line names the headline metric: "<metric>: blessed" / "<metric>: not ...".
    verdicts = [line.split(":", 1)[0] for line in text.splitlines()
                if line.split(":", 1)[0] in overall]
    return EvaluationSummary(verdicts[-1] if verdicts else None, overall, baselines)


def open_store(path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def list_runs(metadata_path: str, pipeline: str | None = None) -> list[RunSummary]:
    """Every pipeline run recorded in the store, oldest first."""
    if not os.path.exists(metadata_path):
        return []
    store = open_store(metadata_path)
    # Run contexts carry only the run id: a run belongs to the pipeline whose context holds
    # its executions.
    pipeline_of_execution = {
        e.id: ctx.name for ctx in store.get_contexts_by_type("pipeline")
        for e in store.get_executions_by_context(ctx.id)}
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    runs = []
    for context in store.get_contexts_by_type("pipeline_run"):
        executions = store.get_executions_by_context(context.id)
        names = {pipeline_of_execution.get(e.id) for e in executions} - {None}
        pipeline_name = names.pop() if names else "?"
        if pipeline and pipeline_name != pipeline:
            continue
        runs.append(_summarize(store, context, executions, pipeline_name, execution_types,
                               artifact_types))
    runs.sort(key=lambda r: r.started)
    return runs


def _summarize(store, context, executions, pipeline_name: str, execution_types: dict[int, str],
               artifact_types: dict[int, str]) -> RunSummary:
    components: dict[str, str] = {}
    for e in executions:
        node = execution_types.get(e.type_id, "?").rsplit(".", 1)[-1]
        components[node] = _STATE_NAMES.get(e.last_known_state, "UNKNOWN")
    states = set(components.values())
    if "FAILED" in states:
        status = "FAILED"
    elif states and states <= {"COMPLETE", "CACHED"}:
        status = "COMPLETE"
    else:
        status = "RUNNING" if states else "EMPTY"

    blessed = pushed_to = evaluation_uri = model_uri = infra_blessed = infra_reason = None
    mobile_results = mobile_pushed_to = blessing_message = None
    evaluation = EvaluationSummary()
    output_ids = [ev.artifact_id for ev in store.get_events_by_execution_ids(
        [e.id for e in executions]) if ev.type in (
            metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    for artifact in store.get_artifacts_by_id(output_ids):
        kind = artifact_types.get(artifact.type_id)
        props = artifact.custom_properties
        if kind == "ModelBlessing" and "blessed" in props:
            blessed = bool(props["blessed"].int_value)
            if "blessing_message" in props:
                blessing_message = props["blessing_message"].string_value or None
        elif kind == "InfraBlessing" and "blessed" in props:
            infra_blessed = bool(props["blessed"].int_value)
            infra_reason = props["reason"].string_value if "reason" in props else None
        elif kind == "PushedModel" and props.get("pushed") and props["pushed"].int_value:
            pushed_to = props["pushed_destination"].string_value
        elif kind == "ModelEvaluation":
            evaluation_uri = artifact.uri
            evaluation = evaluation_summary(props, artifact.uri)
        elif kind == "Model":
            model_uri = artifact.uri
        elif kind == "shipyard.MobileBlessing" and "results" in props:
            mobile_results = json.loads(props["results"].string_value)
        elif kind == "shipyard.MobileBundle" and props.get("pushed") and props["pushed"].int_value:
            mobile_pushed_to = props["pushed_destination"].string_value
    started = min((e.create_time_since_epoch for e in executions),
                  default=context.create_time_since_epoch)
    return RunSummary(pipeline_name, context.name, started / 1000.0, status,
                      components, blessed, pushed_to, evaluation_uri, model_uri,
                      infra_blessed=infra_blessed, infra_reason=infra_reason,
                      mobile_results=mobile_results, mobile_pushed_to=mobile_pushed_to,
                      blessing_message=blessing_message, evaluation=evaluation)


def load_metrics(evaluation_uri: str) -> dict[str, dict[str, float]]:
    """Metrics by slice ('overall', 'label=3', ...) → metric name → value, from TFMA's output
    (TFX's Evaluator and FamilyEvaluator write the same format); diffs against the latest
    blessed model are left out."""
    import tensorflow_model_analysis as tfma

    result: dict[str, dict[str, float]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        slice_key = tfma.slicer.deserialize_slice_key(metrics_for_slice.slice_key)
        name = "overall" if not slice_key else ",".join(
            f"{k}={v.decode() if isinstance(v, bytes) else v}" for k, v in slice_key)
        values = {}
        for kv in metrics_for_slice.metric_keys_and_values:
            if kv.key.is_diff:
                continue
            if kv.value.HasField("double_value"):
                values[kv.key.name] = kv.value.double_value.value
        result[name] = values
    return result
