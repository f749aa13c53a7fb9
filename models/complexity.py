"""Multiply-adds and parameters counted from a built Keras graph.

Counting follows the MobileNet paper: a standard or pointwise convolution costs
H·W·kh·kw·Cin·Cout, a depthwise one H·W·kh·kw·C·depth_multiplier (H, W: output size), a fully
connected layer Cin·Cout; batch normalisation, activations and pooling are not counted.
"""
from __future__ import annotations

import math

from tf_keras import layers

from models.keras2 import keras


def _spatial_positions(layer: layers.Layer) -> int:
    shape = layer.output_shape
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer: layers.Layer) -> int:
    """Multiply-adds of one layer (0 for layers the paper does not count)."""
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        channels = int(layer.input_shape[-1])
        return _spatial_positions(layer) * kh * kw * channels * layer.depth_multiplier
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        cin = int(layer.input_shape[-1]) // layer.groups
        return _spatial_positions(layer) * kh * kw * cin * layer.filters
    if isinstance(layer, layers.Dense):
        positions = math.prod(int(d) for d in layer.output_shape[1:-1]) or 1
        return positions * int(layer.input_shape[-1]) * layer.units
    return 0


def count_macs(model: keras.Model) -> int:
    """Total multiply-adds of one forward pass of one example."""
    return sum(layer_macs(layer) for layer in model.layers)


def count_params(model: keras.Model) -> int:
    """All parameters, trainable or not (batch-norm moving statistics included), as Keras counts."""
    return int(model.count_params())
