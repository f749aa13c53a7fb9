"""A gate after ExampleValidator: any anomaly stops the run before Transform and training."""
import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.utils import io_utils


class DataValidationError(RuntimeError):
    """The data does not match the schema; the message lists what is wrong."""


def summarize(anomalies_by_split: dict[str, anomalies_pb2.Anomalies]) -> str:
    """'split: feature (short description); ...', or '' if there is no anomaly."""
    problems = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            reason = info.description or info.short_description  # the long one names values
            problems.append(f"{split} split: feature '{feature}': {reason}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            problems.append(f"{split} split: {info.short_description or info.description}")
    return "; ".join(problems)


def read_anomalies(artifact) -> dict[str, anomalies_pb2.Anomalies]:
    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = os.path.join(artifact.uri, f"Split-{split}", "SchemaDiff.pb")
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        result[split] = anomalies
    return result


@tfx.dsl.components.component
def DataGate(anomalies: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleAnomalies]) -> None:
    """Fails the run with a readable summary when ExampleValidator found anomalies."""
    summary = summarize(read_anomalies(anomalies))
    if summary:
        raise DataValidationError(f"data validation failed: {summary}")
