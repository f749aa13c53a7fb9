"""Reading runs and their results back from ML Metadata."""
from __future__ import annotations

import dataclasses
import json
import os

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

_STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


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
                      blessing_message=blessing_message)


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
