"""The TFX pipeline every Shipyard family shares; a family supplies only its module code,
its configuration and its evaluation hook.

ExampleGen → StatisticsGen → SchemaGen → ExampleValidator → DataGate → [Transform] → Trainer
→ Evaluator (FamilyEvaluator: the family's hook scores the model beside its simple baselines
and the latest blessed model; TFMA's output format) and
ServingInfraValidator (the model server loads the candidate and answers its warm-up requests)
→ Pusher (only with both blessings); with a mobile config, also Optimizer → TFLiteConverter
→ FidelityGate → MobilePusher.
"""
from __future__ import annotations

import json
from typing import Any

from tfx import v1 as tfx

from components import atomic_pusher
from components.data_gate import DataGate
from components.family_evaluator import FamilyEvaluator
from components.infra_validator import ServingInfraValidator
from pipelines.family import FamilyModules, PipelinePaths


def create_pipeline(paths: PipelinePaths, data_root: Any, family: FamilyModules,
                    beam_args: list[str] | None = None, enable_cache: bool = True,
                    schema_file: str | None = None,
                    metadata_path: str | None = None) -> tfx.dsl.Pipeline:
    """The shared pipeline, for every orchestrator.

    `data_root` is a folder of tf.Example TFRecords (or a RuntimeParameter of one, for
    Kubeflow). With `schema_file` (a curated schema.pbtxt) data is validated against it
    instead of a schema inferred from this run's train split. `metadata_path` is the SQLite
    ML Metadata store of local and Airflow runs (Kubeflow brings its own).
    """
    if family.presplit:
        example_gen = tfx.components.ImportExampleGen(
            input_base=data_root, input_config=tfx.proto.Input(splits=[
                tfx.proto.Input.Split(name=name, pattern=f"{name}/*")
                for name in ("train", "eval")]))
    else:
        example_gen = tfx.components.ImportExampleGen(
            input_base=data_root, output_config=tfx.proto.Output(
                split_config=tfx.proto.SplitConfig(splits=[
                    tfx.proto.SplitConfig.Split(name="train", hash_buckets=4),
                    tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1)])))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    # The schema is learned on the train split only, so that the eval split is checked against
    # it: a label or a feature shape never seen in training shows up as an anomaly.
    if schema_file:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_file)
    else:
        schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                              infer_feature_shape=True, exclude_splits=["eval"])
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    data_gate = DataGate(anomalies=example_validator.outputs["anomalies"])
    components: list[Any] = [example_gen, statistics_gen, schema_gen, example_validator,
                             data_gate]

    trainer_inputs: dict[str, Any] = {"examples": example_gen.outputs["examples"]}
    transform = None
    if family.preprocessing_fn:
        # No pre- and post-transform statistics (nothing here reads them; StatisticsGen has
        # the raw data's): with them, Beam's in-process runner held the whole transformed
        # data in memory, so Transform's peak grew with the dataset (docs/scale.md).
        transform = tfx.components.Transform(
            examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
            preprocessing_fn=family.preprocessing_fn, custom_config=family.custom_config,
            disable_statistics=True)
        transform.add_upstream_node(data_gate)
        components.append(transform)
        trainer_inputs = {"examples": transform.outputs["transformed_examples"],
                          "transform_graph": transform.outputs["transform_graph"]}
    trainer = tfx.components.Trainer(
        run_fn=family.run_fn, schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=family.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=family.eval_steps),
        custom_config=family.custom_config, **trainer_inputs)
    trainer.add_upstream_node(data_gate)

    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = FamilyEvaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        config=json.dumps(family.evaluation.config(), sort_keys=True)).with_id("Evaluator")
    infra_validator = ServingInfraValidator(model=trainer.outputs["model"])
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        infra_blessing=infra_validator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=paths.serving)),
        custom_executor_spec=atomic_pusher.EXECUTOR_SPEC)
    components += [trainer, baseline, evaluator, infra_validator, pusher]
    if family.mobile:
        examples = (transform.outputs["transformed_examples"] if transform
                    else example_gen.outputs["examples"])
        graph = transform.outputs["transform_graph"] if transform else None
        components += _mobile_components(paths, family, examples, graph, trainer, evaluator)

    return tfx.dsl.Pipeline(
        pipeline_name=paths.pipeline_name, pipeline_root=paths.root, components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_path and
        tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path),
        beam_pipeline_args=beam_args or [])


def _mobile_components(paths: PipelinePaths, family: FamilyModules, transformed, graph,
                       trainer, evaluator) -> list[Any]:
    """TFMO variants → .tflite files → LiteRT fidelity gate → atomic mobile bundle.

    `transformed` is Transform's output (ExampleGen's without Transform); `graph` the
    transform graph or None."""
    import json

    from components import mobile

    config = json.dumps({**family.mobile, "base_directory": paths.mobile}, sort_keys=True)
    optimizer = mobile.Optimizer(model=trainer.outputs["model"], transform_graph=graph,
                                 examples=transformed, config=config)
    converter = mobile.TFLiteConverter(
        optimized_models=optimizer.outputs["optimized_models"], model=trainer.outputs["model"],
        transform_graph=graph, examples=transformed, config=config)
    gate = mobile.FidelityGate(tflite_models=converter.outputs["tflite_models"],
                               model=trainer.outputs["model"], transform_graph=graph,
                               examples=transformed, config=config)
    pusher = mobile.MobilePusher(
        tflite_models=converter.outputs["tflite_models"], mobile_blessing=gate.outputs["blessing"],
        model_blessing=evaluator.outputs["blessing"], config=config)
    return [optimizer, converter, gate, pusher]
