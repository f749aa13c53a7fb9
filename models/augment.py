"""Image augmentation for the `tf.data` input pipeline of the image families' training split.

It runs on batches in the input pipeline, never as layers of the model, so the exported model,
its signatures, QAT and the TFLite conversion are the same with or without it, and evaluation
sees the images as they are.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Random affine distortions, drawn per image.

    shift: largest translation, a fraction of the image's width / height (0.1: ±10 %).
    rotation: largest rotation in degrees, either way.
    zoom: largest scale change, a fraction (0.1: scaled by 0.9 to 1.1).
    flip: mirror half the images left-right (off by default: it changes digits and text).
    """

    shift: float = 0.1
    rotation: float = 10.0
    zoom: float = 0.1
    flip: bool = False

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Augmentation | None:
        """The settings of a Trainer's custom config (None or {"enabled": False}: none)."""
        if not config or not config.get("enabled", True):
            return None
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in fields})


def affine_transforms(batch: tf.Tensor, height: int, width: int,
                      augmentation: Augmentation) -> tf.Tensor:
    """[batch, 8] projective transforms (output pixel → input pixel, the layout of
    tf.raw_ops.ImageProjectiveTransformV3): a random rotation, zoom, shift and optional flip,
    each about the image's centre."""
    def uniform(limit: float) -> tf.Tensor:
        return tf.random.uniform([batch], -limit, limit)

    angle = uniform(augmentation.rotation * math.pi / 180)
    # Sampling the input over a 1/scale-sized window zooms in when scale > 1.
    scale = 1.0 + uniform(augmentation.zoom)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    mirror = tf.ones([batch])
    if augmentation.flip:
        mirror = tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    a0, a1 = cos * mirror, -sin
    b0, b1 = sin * mirror, cos
    cx, cy = (width - 1) / 2, (height - 1) / 2
    dx, dy = uniform(augmentation.shift) * width, uniform(augmentation.shift) * height
    a2 = cx + dx - (a0 * cx + a1 * cy)
    b2 = cy + dy - (b0 * cx + b1 * cy)
    zeros = tf.zeros([batch])
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def augment_images(images: tf.Tensor, augmentation: Augmentation) -> tf.Tensor:
    """A batch [N, H, W, C] of float images, each randomly distorted; same shape and dtype.

    Bilinear sampling with the nearest edge pixel repeated outside the image, so every output
    value lies within the range of its input image (no new background colour appears)."""
    shape = tf.shape(images)
    height, width = images.shape[1], images.shape[2]
    transforms = affine_transforms(shape[0], height, width, augmentation)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=shape[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")
    out.set_shape(images.shape)
    return out


def features_augmenter(augmentation: Augmentation | None, image_key: str):
    """A `(features, label)` batch map for `tf.data` that augments `features[image_key]`;
    None when there is no augmentation."""
    if augmentation is None:
        return None

    def augment(features: dict[str, tf.Tensor], label: tf.Tensor):
        return {**features, image_key: augment_images(features[image_key], augmentation)}, label

    return augment
