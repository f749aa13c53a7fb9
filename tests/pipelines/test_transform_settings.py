"""Transform's settings in the shared pipeline, for every family that has a Transform step:
no pre-/post-transform statistics (on Beam's in-process runner they held several times the
transformed data in memory, so Transform's peak grew with the dataset; docs/scale.md), and
the transformed examples still materialised for the Trainer and the mobile components."""
import pytest

from pipelines import builder, config, registry
from pipelines.cli import build_parser
from pipelines.family import PipelinePaths

TRANSFORM_FAMILIES = ["image_classification", "smart_reply", "translation"]


def _nodes(pipeline_name: str, tmp_path) -> dict:
    args = build_parser().parse_args(["run", pipeline_name, "--output-dir", str(tmp_path)])
    family = registry.get(args.pipeline)
    paths = PipelinePaths(str(tmp_path), family.pipeline_name)
    pipeline = builder.create_pipeline(paths, str(tmp_path / "data"),
                                       family.pipeline_modules(args, paths),
                                       beam_args=config.beam_pipeline_args(vars(args)))
    return {c.id: c for c in pipeline.components}


def test_the_families_with_a_transform_step_are_the_ones_checked(tmp_path):
    with_transform = []
    for family in registry.all_families():
        args = build_parser().parse_args(["run", family.name, "--output-dir", str(tmp_path)])
        paths = PipelinePaths(str(tmp_path), family.pipeline_name)
        if family.pipeline_modules(args, paths).preprocessing_fn:
            with_transform.append(family.name)
    assert sorted(with_transform) == TRANSFORM_FAMILIES


@pytest.mark.parametrize("pipeline_name", TRANSFORM_FAMILIES)
def test_transform_computes_no_statistics_and_materialises_its_output(pipeline_name, tmp_path):
    nodes = _nodes(pipeline_name, tmp_path)
    transform = nodes["Transform"]
    assert transform.exec_properties["disable_statistics"] == 1
    # Only the graph, the transformed examples and the analyzer cache: no statistics,
    # schemas or anomalies artifacts.
    assert set(transform.outputs) == {"transform_graph", "transformed_examples",
                                      "updated_analyzer_cache"}
    trainer = nodes["Trainer"]
    assert trainer.inputs["examples"].producer_component_id == "Transform"
    assert trainer.inputs["examples"].output_key == "transformed_examples"
    assert trainer.inputs["transform_graph"].producer_component_id == "Transform"
