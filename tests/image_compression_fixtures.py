"""Session fixtures the image-compression tests share: the bundled data (2 patches a photo) in
ExampleGen's layout, and one tiny codec trained by the Trainer module and exported."""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import glob
import types

import pytest


@pytest.fixture(scope="session")
def bundled_data(tmp_path_factory):
    from pipelines import compression_data

    return compression_data.build_bundled(str(tmp_path_factory.mktemp("cache")),
                                          max_patches_per_photo=2)


@pytest.fixture(scope="session")
def exported(bundled_data, tmp_path_factory):
    """(serving SavedModel dir, examples URI): 10 Trainer steps of a 1/16-width, 4-iteration
    codec on GZIP splits laid out as ExampleGen writes them."""
    import tensorflow as tf

    from models.image_compression import trainer

    tf.random.set_seed(0)
    root = tmp_path_factory.mktemp("trainer")
    examples = root / "examples"
    for split in ("train", "eval"):
        (examples / f"Split-{split}").mkdir(parents=True)
        with tf.io.TFRecordWriter(str(examples / f"Split-{split}" / "data.gz"), "GZIP") as w:
            for record in tf.data.TFRecordDataset(
                    glob.glob(os.path.join(bundled_data, split, "*"))):
                w.write(record.numpy())
    fn_args = types.SimpleNamespace(
        custom_config={"alpha": 1 / 16, "iterations": 4, "batch_size": 16,
                       "learning_rate": 3e-3, "epochs": 1},
        train_files=[str(examples / "Split-train" / "*")],
        eval_files=[str(examples / "Split-eval" / "*")],
        serving_model_dir=str(root / "model" / "Format-Serving"),
        model_run_dir=str(root / "run"), train_steps=10, eval_steps=1)
    trainer.run_fn(fn_args)
    return fn_args.serving_model_dir, str(examples)
