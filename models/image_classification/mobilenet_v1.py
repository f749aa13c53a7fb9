"""MobileNet v1.

Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", arXiv:1704.04861 (2017).

A standard 3×3 convolution followed by 13 depthwise-separable blocks (3×3 depthwise + BN + ReLU6,
then 1×1 pointwise + BN + ReLU6), global average pooling and a fully connected classifier. The
width multiplier ``alpha`` thins every layer (channels = int(width × alpha)); the resolution
multiplier is expressed directly as the input ``resolution``. The classifier is a 1×1
convolution over the pooled features, as in the reference implementations, so parameter counts
match Keras' ``MobileNet`` exactly.
"""
from __future__ import annotations

from tf_keras import layers

from models.keras2 import keras

# (pointwise width, depthwise stride) of the 13 depthwise-separable blocks, Table 1 of the paper.
# The last block has stride 1: the "s2" printed there is a typo (the output stays 7×7).
SEPARABLE_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)
MIN_RESOLUTION = 32


def _conv_bn_relu6(x, filters: int, kernel: int, strides: int, name: str):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def _depthwise_separable(x, pointwise_filters: int, alpha: float, depth_multiplier: int,
                         strides: int, block_id: int):
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same",
                               depth_multiplier=depth_multiplier, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    return _conv_bn_relu6(x, int(pointwise_filters * alpha), 1, 1, f"conv_pw_{block_id}")


def mobilenet_v1(
    resolution: int = 224,
    alpha: float = 1.0,
    depth_multiplier: int = 1,
    dropout: float = 1e-3,
    classes: int = 1000,
    include_top: bool = True,
    channels: int = 3,
) -> keras.Model:
    """Builds MobileNet v1 for ``resolution``×``resolution`` inputs in [-1, 1].

    Args:
      resolution: input height and width (the paper's ρ expressed in pixels: 224, 192, 160,
        128 in its tables); at least 32.
      alpha: width multiplier α, thins the number of channels of every layer.
      depth_multiplier: channel multiplier of the depthwise convolutions.
      dropout: dropout rate before the classifier.
      classes: number of output classes.
      include_top: whether to add the pooling + classifier head.
      channels: input channels.
    """
    if resolution < MIN_RESOLUTION:
        raise ValueError(f"MobileNet v1 needs a resolution of at least {MIN_RESOLUTION}, "
                         f"got {resolution}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if depth_multiplier < 1:
        raise ValueError(f"depth_multiplier must be at least 1, got {depth_multiplier}")
    inputs = keras.Input((resolution, resolution, channels), name="image")
    x = _conv_bn_relu6(inputs, int(32 * alpha), 3, 2, "conv1")
    for block_id, (filters, strides) in enumerate(SEPARABLE_BLOCKS, start=1):
        x = _depthwise_separable(x, filters, alpha, depth_multiplier, strides, block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="logits")(x)
        x = layers.Reshape((classes,), name="reshape")(x)
        # float32 under a mixed-precision policy: a 16-bit softmax loses small probabilities.
        x = layers.Softmax(name="predictions", dtype="float32")(x)
    name = f"mobilenet_v1_{alpha:g}_{resolution}"
    return keras.Model(inputs, x, name=name)
