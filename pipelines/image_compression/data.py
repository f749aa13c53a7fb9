"""Data of the image-compression pipeline: the training photos whole (the Trainer draws random
32×32 crops from them every step), or with --max-patches-per-photo that many fixed 32×32
patches of each, and whole held-out photos for the rate–distortion evaluation, written
pre-split (train/, eval/) so that no held-out photo ever contributes a training patch.

Bundled: the real photographs scikit-image and scikit-learn ship. Users: a folder of images,
every fifth one (in name order) held out.
"""
from __future__ import annotations

import glob
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pipelines.errors import ShipyardError
from pipelines.tfrecords import find_shards, write_shuffled_shards

if TYPE_CHECKING:  # numpy is imported where it is used: the CLI loads this module
    import numpy as np

PATCH = 32
IMAGE_KEY = "image"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# scikit-image's photographs (not its synthetic / binary / microscopy-stain test images) and
# scikit-learn's two sample photos. Held out: a colour portrait, a colour close-up and a grey
# portrait, all at least 176 px a side, so MS-SSIM uses its five scales.
TRAIN_PHOTOS = ("skimage:chelsea.png", "skimage:coffee.png", "skimage:rocket.jpg",
                "skimage:motorcycle_left.png", "skimage:motorcycle_right.png",
                "skimage:hubble_deep_field.jpg", "skimage:ihc.png", "skimage:coins.png",
                "skimage:moon.png", "skimage:brick.png", "skimage:grass.png",
                "skimage:gravel.png", "skimage:page.png", "skimage:text.png",
                "skimage:clock_motion.png", "skimage:cell.png", "sklearn:china.jpg")
EVAL_PHOTOS = ("skimage:astronaut.png", "sklearn:flower.jpg", "skimage:camera.png")
BUNDLE_VERSION = 3  # 3: whole training photos unless a patch limit is given


def _bundled_photo(name: str) -> np.ndarray:
    import numpy as np

    source, key = name.split(":", 1)
    if source == "sklearn":
        from sklearn.datasets import load_sample_image

        image = load_sample_image(key)
    else:
        # The files themselves: some skimage.data loaders fetch from the network.
        import skimage
        from PIL import Image

        with Image.open(os.path.join(os.path.dirname(skimage.__file__), "data", key)) as img:
            image = np.asarray(img.convert("RGB"))
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., np.newaxis], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def example_bytes(png: bytes) -> bytes:
    """A tf.Example of one image. No name feature: SchemaGen would learn the training photos'
    names as a vocabulary and flag every held-out photo as an anomaly."""
    import tensorflow as tf

    feature = {IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))}
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def patches(image: np.ndarray, limit: int | None = None) -> Iterator[np.ndarray]:
    """The non-overlapping 32×32 patches of an image, row by row; with `limit`, that many
    spread evenly over the image (a deterministic subset)."""
    import numpy as np

    rows, cols = image.shape[0] // PATCH, image.shape[1] // PATCH
    positions = [(r, c) for r in range(rows) for c in range(cols)]
    if limit is not None and limit < len(positions):
        positions = [positions[i] for i in np.linspace(0, len(positions) - 1, limit).astype(int)]
    for r, c in positions:
        yield image[r * PATCH:(r + 1) * PATCH, c * PATCH:(c + 1) * PATCH]


def _write(directory: str, train: Iterable[tuple[str, np.ndarray]],
           held_out: Iterable[tuple[str, np.ndarray]], limit: int | None) -> dict[str, int]:
    counts = {"train": 0, "eval": 0}

    def train_records():
        for _, image in train:
            for patch in [image] if limit is None else patches(image, limit):
                counts["train"] += 1
                yield example_bytes(_png(patch))

    def eval_records():
        for _, image in held_out:
            counts["eval"] += 1
            yield example_bytes(_png(image))

    write_shuffled_shards(eval_records(), os.path.join(directory, "eval"), "photos")
    write_shuffled_shards(train_records(), os.path.join(directory, "train"), "patches")
    return counts


def build_bundled(cache_dir: str, max_patches_per_photo: int | None = None) -> str:
    """The bundled photos as train/ (whole photos, or patches) and eval/ (held-out photos)
    TFRecords."""
    limit = "all" if max_patches_per_photo is None else str(max_patches_per_photo)
    directory = os.path.join(cache_dir, f"photos-v{BUNDLE_VERSION}-{limit}")
    if not _complete(directory):
        _write(directory, ((n, _bundled_photo(n)) for n in TRAIN_PHOTOS),
               ((n, _bundled_photo(n)) for n in EVAL_PHOTOS), max_patches_per_photo)
    return directory


def _complete(directory: str) -> bool:
    return all(find_shards(os.path.join(directory, split), prefix) is not None
               for split, prefix in (("train", "patches"), ("eval", "photos")))


def _read_user_image(path: str) -> np.ndarray:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            image = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ShipyardError(f"unreadable image {path}: {e}") from None
    if min(image.shape[:2]) < PATCH:
        raise ShipyardError(f"image too small: {path} is {image.shape[1]}×{image.shape[0]} "
                            f"(at least {PATCH}×{PATCH})")
    return image


def build_from_folder(data_dir: str, cache_dir: str,
                      max_patches_per_photo: int | None = None) -> str:
    """A folder of images: every fifth (in name order, from the first) held out whole for
    evaluation, the others kept whole (or cut into patches). Needs at least two images."""
    if not os.path.isdir(data_dir):
        raise ShipyardError(f"data directory not found: {data_dir}")
    files = sorted(f for f in glob.glob(os.path.join(data_dir, "**", "*"), recursive=True)
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if len(files) < 2:
        raise ShipyardError(f"{data_dir} has {len(files)} image(s); the compression pipeline "
                            f"needs at least 2 ({', '.join(IMAGE_EXTENSIONS)}): one to hold out")
    listing = "\n".join(f"{p}:{os.path.getsize(p)}:{os.path.getmtime(p)}" for p in files)
    digest = hashlib.sha256(f"{listing}\n{max_patches_per_photo}".encode()).hexdigest()[:16]
    directory = os.path.join(cache_dir, f"{os.path.basename(os.path.abspath(data_dir))}-{digest}")
    if not _complete(directory):
        images = [(os.path.relpath(p, data_dir), _read_user_image(p)) for p in files]
        _write(directory, [x for i, x in enumerate(images) if i % 5],
               [x for i, x in enumerate(images) if i % 5 == 0], max_patches_per_photo)
    return directory
