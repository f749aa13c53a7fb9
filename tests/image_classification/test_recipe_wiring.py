"""The Trainer augments the training split only, and exports a model compiled with plain Keras
objects whatever the recipe."""
import types

import pytest

from models.image_classification import trainer

CONFIG = {"model": "mobilenet_v1", "alpha": 0.25, "resolution": 32, "learning_rate": 0.01,
          "lr_schedule": "cosine", "warmup_steps": 2, "label_smoothing": 0.1,
          "weight_decay": 0.01, "augment": {"shift": 0.1, "rotation": 10, "zoom": 0.1}}


class _Stop(Exception):
    pass


def test_run_fn_augments_the_training_split_only(monkeypatch, tmp_path):
    batch_maps, samples = {}, {}

    def dataset(fn_args, files, tft_output, label_key, batch_size, shuffle, batch_map=None,
                sample=None):
        batch_maps[files[0]] = batch_map
        samples[files[0]] = sample

    def fit(*args, **kwargs):
        raise _Stop

    vocabulary = types.SimpleNamespace(vocabulary_by_name=lambda name: [b"0", b"1"])
    monkeypatch.setattr(trainer, "transformed_dataset", dataset)
    monkeypatch.setattr(trainer, "fit_steps", fit)
    monkeypatch.setattr(trainer.tft, "TFTransformOutput", lambda path: vocabulary)
    fn_args = types.SimpleNamespace(
        custom_config=dict(CONFIG), transform_graph_path="unused", train_files=["train"],
        eval_files=["eval"], train_steps=10, eval_steps=1, model_run_dir=str(tmp_path),
        serving_model_dir=str(tmp_path / "serving"))
    with pytest.raises(_Stop):
        trainer.run_fn(fn_args)
    assert batch_maps["train"] is not None and batch_maps["eval"] is None
    # The in-training eval reads eval_steps batches (of 64) spread over the eval split.
    assert samples == {"train": None, "eval": 64}
    batch_maps.clear()
    fn_args.custom_config = {**CONFIG, "augment": None}
    with pytest.raises(_Stop):
        trainer.run_fn(fn_args)
    assert batch_maps == {"train": None, "eval": None}


def test_export_compile_config_names_only_keras_objects():
    model = trainer.build_model(CONFIG, num_classes=3, train_steps=10)
    assert model.loss.__name__ == "sparse_categorical_crossentropy_smoothed"
    trainer.compile_for_export(model)
    assert model.loss == "sparse_categorical_crossentropy"
    assert type(model.optimizer).__name__ == "Adam"
