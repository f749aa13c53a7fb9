"""Image-classification data: the bundled digits, or the user's folder of class sub-folders of
JPEG/PNG files or of TFRecords of tf.Examples. Users' data is checked up front so that problems
surface as one-line errors, not deep in Beam."""
from __future__ import annotations

import hashlib
import io
import os

from pipelines.errors import ShipyardError
from pipelines.tfrecords import (
    TFRECORD_PATTERNS,
    find_shards,
    find_tfrecords,
    write_shuffled_shards,
)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def example_bytes(encoded_image: bytes, label: str) -> bytes:
    import tensorflow as tf

    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded_image])),
        "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)  # map order is otherwise arbitrary


def _check_tfrecords(files: list[str], image_key: str, label_key: str) -> None:
    import tensorflow as tf

    compression = "GZIP" if files[0].endswith(".gz") else ""
    try:
        records = list(tf.data.TFRecordDataset(files[:1], compression_type=compression).take(1))
    except tf.errors.OpError as e:
        raise ShipyardError(f"{files[0]}: not a readable TFRecord file ({e.message})") from None
    if not records:
        raise ShipyardError(f"{files[0]}: TFRecord file holds no records")
    try:
        example = tf.train.Example.FromString(records[0].numpy())
    except Exception:  # protobuf raises DecodeError, a private type
        raise ShipyardError(f"{files[0]}: records are not tf.Examples") from None
    for key in (image_key, label_key):
        if key not in example.features.feature:
            raise ShipyardError(f"{files[0]}: tf.Example has no feature '{key}' "
                                f"(found: {', '.join(sorted(example.features.feature))})")


def _class_folders(data_dir: str) -> dict[str, list[str]]:
    classes = {}
    for name in sorted(os.listdir(data_dir)):
        folder = os.path.join(data_dir, name)
        if os.path.isdir(folder) and not name.startswith("."):
            classes[name] = sorted(
                os.path.join(folder, f) for f in os.listdir(folder)
                if f.lower().endswith(IMAGE_EXTENSIONS))
    return classes


def _check_image(path: str) -> bytes:
    from PIL import Image, UnidentifiedImageError

    with open(path, "rb") as f:
        data = f.read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ShipyardError(f"unreadable image {path}: {e}") from None
    return data


def prepare(data_dir: str, cache_dir: str, min_images_per_class: int,
            image_key: str = "image", label_key: str = "label") -> str:
    """Checks `data_dir` and returns a directory of TFRecords of tf.Examples for ExampleGen."""
    if not os.path.isdir(data_dir):
        raise ShipyardError(f"data directory not found: {data_dir}")
    tfrecords = find_tfrecords(data_dir)
    if tfrecords:
        _check_tfrecords(tfrecords, image_key, label_key)
        return os.path.abspath(data_dir)

    classes = _class_folders(data_dir)
    if not classes or not any(classes.values()):
        raise ShipyardError(
            f"{data_dir} is empty: expected one sub-folder of JPEG/PNG images per class, "
            f"or TFRecord files ({', '.join(TFRECORD_PATTERNS)}) of tf.Examples")
    if len(classes) < 2:
        raise ShipyardError(f"{data_dir}: found one class ({next(iter(classes))}); "
                            "classification needs at least two class sub-folders")
    for name, files in classes.items():
        if len(files) < min_images_per_class:
            raise ShipyardError(
                f"class '{name}' has {len(files)} image(s); each class needs at least "
                f"{min_images_per_class} (--min-images-per-class)")

    listing = "\n".join(f"{p}:{os.path.getsize(p)}:{os.path.getmtime(p)}"
                        for files in classes.values() for p in files)
    digest = hashlib.sha256(listing.encode()).hexdigest()[:16]
    out_dir = os.path.join(cache_dir, f"{os.path.basename(os.path.abspath(data_dir))}-{digest}")
    if find_shards(out_dir, "images") is None:
        write_shuffled_shards((example_bytes(_check_image(p), name)
                               for name, files in classes.items() for p in files),
                              out_dir, "images")
    return out_dir


def build_digits(directory: str) -> str:
    """scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels) as tf.Examples of
    PNG bytes + label ('0'…'9'), shuffled. Returns the directory holding the shards."""
    if find_shards(directory, "digits") is not None:
        return directory
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)

    def records():
        for image, target in zip(pixels, digits.target, strict=True):
            buffer = io.BytesIO()
            Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=False)
            yield example_bytes(buffer.getvalue(), str(int(target)))

    write_shuffled_shards(records(), directory, "digits")
    return directory
