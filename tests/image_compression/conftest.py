"""Session fixtures the image-compression tests share: the bundled data (16 patches a photo) in
ExampleGen's layout, and one small codec trained by the Trainer module and exported."""
import glob
import os
import types

import pytest

# Enough training for progressive decoding to hold on the held-out photos: their mean PSNR and
# MS-SSIM rise at every one of the 4 iterations (tests/test_image_compression_model.py) in all
# six models probed (seeds 0-2, two op orders; per photo in five). 10 steps of a 1/16-width
# codec on 2 patches a photo decoded worse at every later iteration (mean PSNR 9.16 → 7.80 dB);
# 1/16 width at lr 1e-2 left the flower's PSNR flat near 16 dB.
PATCHES_PER_PHOTO = 16
RECIPE = {"alpha": 1 / 8, "iterations": 4, "batch_size": 32, "learning_rate": 1e-2,
          "epochs": 1}
TRAIN_STEPS = 200


@pytest.fixture(scope="session")
def bundled_data(tmp_path_factory):
    from pipelines.image_compression import data as compression_data

    return compression_data.build_bundled(str(tmp_path_factory.mktemp("cache")),
                                          max_patches_per_photo=PATCHES_PER_PHOTO)


@pytest.fixture(scope="session")
def exported(bundled_data, tmp_path_factory):
    """(serving SavedModel dir, examples URI): TRAIN_STEPS Trainer steps of a 1/8-width,
    4-iteration codec (RECIPE) on GZIP splits laid out as ExampleGen writes them."""
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
        custom_config=dict(RECIPE),
        train_files=[str(examples / "Split-train" / "*")],
        eval_files=[str(examples / "Split-eval" / "*")],
        serving_model_dir=str(root / "model" / "Format-Serving"),
        model_run_dir=str(root / "run"), train_steps=TRAIN_STEPS, eval_steps=1)
    trainer.run_fn(fn_args)
    return fn_args.serving_model_dir, str(examples)
