"""The registry of pipelines that the CLI and the runners share.

A pipeline registers its name, its command-line options, how it turns them into the family's
modules (checking the user's data on the way) and which metric its report leads with.
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
    # Checks and prepares the inputs (one-line ShipyardError on bad input); returns the data
    # root for ExampleGen and the family's modules.
    prepare: Callable[[argparse.Namespace, PipelinePaths], tuple[str, FamilyModules]]
    headline_metric: str
    serve_hint: Callable[[str], str]


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
    from pipelines import image_classification  # noqa: F401
