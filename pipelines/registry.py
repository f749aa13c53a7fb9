"""The model families, as one explicit list that the CLI and every runner (local, Kubeflow,
Airflow) share."""
from __future__ import annotations

from pipelines.errors import ShipyardError
from pipelines.family import Family
from pipelines.image_classification.definition import ImageClassification
from pipelines.image_compression.definition import ImageCompression
from pipelines.smart_reply.definition import SmartReply
from pipelines.translation.definition import Translation

FAMILIES: tuple[Family, ...] = (ImageClassification(), Translation(), SmartReply(),
                                ImageCompression())


def all_families() -> tuple[Family, ...]:
    return FAMILIES


def get(name: str) -> Family:
    """The family called `name` (`image_classification`, or the CLI's `image-classification`)."""
    for family in FAMILIES:
        if name in (family.name, family.pipeline_name):
            return family
    raise ShipyardError(f"unknown pipeline {name!r}; choose from "
                        f"{', '.join(f.name for f in FAMILIES)}")
