"""Inception v3.

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", arXiv:1512.00567
(2015).

A stem of plain convolutions, then three groups of factorised Inception modules separated by
efficient grid-size reductions: 35×35 modules (5×5 factorised into two 3×3, "figure 5"), 17×17
modules with n×1 / 1×n factorisation (n = 7, "figure 6"), and 8×8 modules with expanded filter
banks ("figure 7"). Every convolution is followed by batch normalisation (no scale) and ReLU.
Like Keras' ``InceptionV3`` this omits the auxiliary classifier, so counts match it exactly.
"""
from __future__ import annotations

from tf_keras import layers

from models.keras2 import keras

MIN_RESOLUTION = 75


class _Namer:
    """Gives layers stable, readable names (conv2d_bn_1, ...)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"conv2d_bn_{self.count}"


def _conv_bn(x, filters: int, kh: int, kw: int, namer: _Namer, strides: int = 1,
             padding: str = "same"):
    name = namer()
    x = layers.Conv2D(filters, (kh, kw), strides=strides, padding=padding, use_bias=False,
                      name=name)(x)
    x = layers.BatchNormalization(scale=False, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _avg_pool_branch(x, filters: int, namer: _Namer):
    x = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    return _conv_bn(x, filters, 1, 1, namer)


def _module_35(x, pool_filters: int, namer: _Namer, name: str):
    """35×35 module: the 5×5 branch and the double 3×3 branch (a factorised 5×5)."""
    b1 = _conv_bn(x, 64, 1, 1, namer)
    b5 = _conv_bn(_conv_bn(x, 48, 1, 1, namer), 64, 5, 5, namer)
    b3 = _conv_bn(x, 64, 1, 1, namer)
    b3 = _conv_bn(_conv_bn(b3, 96, 3, 3, namer), 96, 3, 3, namer)
    bp = _avg_pool_branch(x, pool_filters, namer)
    return layers.Concatenate(name=name)([b1, b5, b3, bp])


def _reduction_35_to_17(x, namer: _Namer):
    b3 = _conv_bn(x, 384, 3, 3, namer, strides=2, padding="valid")
    bd = _conv_bn(x, 64, 1, 1, namer)
    bd = _conv_bn(_conv_bn(bd, 96, 3, 3, namer), 96, 3, 3, namer, strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2)(x)
    return layers.Concatenate(name="mixed3")([b3, bd, bp])


def _module_17(x, width: int, namer: _Namer, name: str):
    """17×17 module: 7×7 convolutions factorised into 1×7 and 7×1."""
    b1 = _conv_bn(x, 192, 1, 1, namer)
    b7 = _conv_bn(x, width, 1, 1, namer)
    b7 = _conv_bn(b7, width, 1, 7, namer)
    b7 = _conv_bn(b7, 192, 7, 1, namer)
    bd = _conv_bn(x, width, 1, 1, namer)
    bd = _conv_bn(bd, width, 7, 1, namer)
    bd = _conv_bn(bd, width, 1, 7, namer)
    bd = _conv_bn(bd, width, 7, 1, namer)
    bd = _conv_bn(bd, 192, 1, 7, namer)
    bp = _avg_pool_branch(x, 192, namer)
    return layers.Concatenate(name=name)([b1, b7, bd, bp])


def _reduction_17_to_8(x, namer: _Namer):
    b3 = _conv_bn(_conv_bn(x, 192, 1, 1, namer), 320, 3, 3, namer, strides=2, padding="valid")
    b7 = _conv_bn(x, 192, 1, 1, namer)
    b7 = _conv_bn(b7, 192, 1, 7, namer)
    b7 = _conv_bn(b7, 192, 7, 1, namer)
    b7 = _conv_bn(b7, 192, 3, 3, namer, strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2)(x)
    return layers.Concatenate(name="mixed8")([b3, b7, bp])


def _module_8(x, namer: _Namer, name: str):
    """8×8 module: expanded filter banks, 3×3 split into parallel 1×3 and 3×1."""
    b1 = _conv_bn(x, 320, 1, 1, namer)
    b3 = _conv_bn(x, 384, 1, 1, namer)
    b3 = layers.Concatenate()([_conv_bn(b3, 384, 1, 3, namer), _conv_bn(b3, 384, 3, 1, namer)])
    bd = _conv_bn(x, 448, 1, 1, namer)
    bd = _conv_bn(bd, 384, 3, 3, namer)
    bd = layers.Concatenate()([_conv_bn(bd, 384, 1, 3, namer), _conv_bn(bd, 384, 3, 1, namer)])
    bp = _avg_pool_branch(x, 192, namer)
    return layers.Concatenate(name=name)([b1, b3, bd, bp])


def inception_v3(
    resolution: int = 299,
    classes: int = 1000,
    dropout: float = 0.0,
    include_top: bool = True,
    channels: int = 3,
) -> keras.Model:
    """Builds Inception v3 for ``resolution``×``resolution`` inputs in [-1, 1].

    Args:
      resolution: input height and width, at least 75 (299 in the paper).
      classes: number of output classes.
      dropout: dropout rate before the classifier (0 keeps the Keras reference head).
      include_top: whether to add the pooling + classifier head.
      channels: input channels.
    """
    if resolution < MIN_RESOLUTION:
        raise ValueError(f"Inception v3 needs a resolution of at least {MIN_RESOLUTION}, "
                         f"got {resolution}")
    namer = _Namer()
    inputs = keras.Input((resolution, resolution, channels), name="image")
    # Stem: 299 → 149 → 147 → 147 → 73 → 73 → 71 → 35.
    x = _conv_bn(inputs, 32, 3, 3, namer, strides=2, padding="valid")
    x = _conv_bn(x, 32, 3, 3, namer, padding="valid")
    x = _conv_bn(x, 64, 3, 3, namer)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = _conv_bn(x, 80, 1, 1, namer, padding="valid")
    x = _conv_bn(x, 192, 3, 3, namer, padding="valid")
    x = layers.MaxPooling2D(3, strides=2)(x)

    x = _module_35(x, 32, namer, "mixed0")
    x = _module_35(x, 64, namer, "mixed1")
    x = _module_35(x, 64, namer, "mixed2")
    x = _reduction_35_to_17(x, namer)
    for i, width in enumerate((128, 160, 160, 192), start=4):
        x = _module_17(x, width, namer, f"mixed{i}")
    x = _reduction_17_to_8(x, namer)
    x = _module_8(x, namer, "mixed9")
    x = _module_8(x, namer, "mixed10")

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        # float32 under a mixed-precision policy: a 16-bit softmax loses small probabilities.
        x = layers.Dense(classes, activation="softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inputs, x, name=f"inception_v3_{resolution}")
