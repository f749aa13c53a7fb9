"""The registry of pipelines that the CLI and every runner (local, Kubeflow, Airflow) share.

A pipeline registers its name, its command-line options (their defaults live in
`pipelines/configs/<name>.yaml`), how its settings become the family's modules, how its local
data is made ready, and which metric its report leads with.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from pipelines.spec import FamilyModules, PipelinePaths


@dataclasses.dataclass(frozen=True)
class PipelineDefinition:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    # Checks the settings (one-line ShipyardError on a bad value) and returns the family's
    # modules. Touches no data, so that a pipeline compiles on a machine without it.
    family: Callable[[argparse.Namespace, PipelinePaths], FamilyModules]
    # Makes the local data ready (bundled sample or the user's files, checked) and returns
    # the directory of tf.Example TFRecords that ExampleGen imports.
    prepare_data: Callable[[argparse.Namespace, PipelinePaths], str]
    headline_metric: str
    serve_hint: Callable[[str], str]
    # The family's own commands beside `run` (`translate`, `reply`, `compress`, ...): called
    # with the CLI's sub-parsers; each command sets `handler`.
    add_commands: Callable[[argparse._SubParsersAction], None] | None = None
    # Settles settings that depend on the prepared data before the pipeline is built (e.g.
    # the budget-driven model choice); may change `args`. Local runs only.
    before_run: Callable[[argparse.Namespace, PipelinePaths, str], None] | None = None


_REGISTRY: dict[str, PipelineDefinition] = {}


def register(definition: PipelineDefinition) -> PipelineDefinition:
    _REGISTRY[definition.name] = definition
    return definition


def get(name: str) -> PipelineDefinition:
    _load_builtin()
    return _REGISTRY[name]


def all_pipelines() -> list[PipelineDefinition]:
    _load_builtin()
    return list(_REGISTRY.values())


def _load_builtin() -> None:
    # Importing a pipeline module registers it.
    from pipelines import (  # noqa: F401
        image_classification,
        image_compression,
        smart_reply,
        translation,
    )
