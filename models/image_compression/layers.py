"""The two layers the Residual-GRU codec is made of: a convolutional GRU with a residual
connection, and the binarizer that turns the encoder's output into ±1 bits.

Toderici et al., "Full Resolution Image Compression with Recurrent Neural Networks", CVPR 2017
(arXiv:1608.05148), sections 2.1 (binarizer) and 2.3 (GRU, Residual GRU).
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from models.keras2 import keras


# Registered, so that a saved decoder step (the mobile components' .h5) loads by name alone.
@keras.saving.register_keras_serializable(package="shipyard")
class ConvGRU(keras.layers.Layer):
    """One convolutional GRU step: called on `[x, h]`, returns `[o, h']`.

        z = σ(W_z ⊛ x + U_z ⊛ h),  r = σ(W_r ⊛ x + U_r ⊛ h)
        h' = (1 − z) ⊙ h + z ⊙ tanh(W ⊛ x + U ⊛ (r ⊙ h))
        o = h' + P(x)   (Residual GRU; o = h' without it)

    W convolves the input with `kernel_size` and `strides` (the encoder's downsampling happens
    here), U the state with `hidden_kernel_size`. P is the identity when x and h' have the same
    shape, else a strided 1×1 convolution (ResNet's projection shortcut). The state is carried
    by the caller, so that it persists across coding iterations.
    """

    # A recurrent cell for models.optimization.plan: TFMO has no 8-bit QAT scheme for it.
    is_recurrent = True

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1,
                 hidden_kernel_size: int = 1, residual: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.hidden_kernel_size = hidden_kernel_size
        self.residual = residual
        self.input_conv = keras.layers.Conv2D(3 * filters, kernel_size, strides=strides,
                                              padding="same", name="input_conv")
        self.gate_conv = keras.layers.Conv2D(2 * filters, hidden_kernel_size, padding="same",
                                             use_bias=False, name="gate_conv")
        self.candidate_conv = keras.layers.Conv2D(filters, hidden_kernel_size, padding="same",
                                                  use_bias=False, name="candidate_conv")
        self.shortcut = None

    def build(self, input_shape: list[tf.TensorShape]) -> None:
        x_shape = tf.TensorShape(input_shape[0])
        if self.residual and (self.strides != 1 or x_shape[-1] != self.filters):
            self.shortcut = keras.layers.Conv2D(self.filters, 1, strides=self.strides,
                                                use_bias=False, name="shortcut")
        super().build(input_shape)

    def call(self, inputs: list[tf.Tensor]) -> list[tf.Tensor]:
        x, h = inputs
        wx_z, wx_r, wx_c = tf.split(self.input_conv(x), 3, axis=-1)
        uh_z, uh_r = tf.split(self.gate_conv(h), 2, axis=-1)
        z = tf.sigmoid(wx_z + uh_z)
        r = tf.sigmoid(wx_r + uh_r)
        candidate = tf.tanh(wx_c + self.candidate_conv(r * h))
        h_next = (1.0 - z) * h + z * candidate
        if not self.residual:
            return [h_next, h_next]
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return [h_next + shortcut, h_next]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "hidden_kernel_size": self.hidden_kernel_size, "residual": self.residual}


@keras.saving.register_keras_serializable(package="shipyard")
class Binarizer(keras.layers.Layer):
    """1×1 convolution to `bits` channels, tanh, then ±1.

    Training: stochastic, +1 with probability (1 + x) / 2, so the bit is an unbiased estimate
    of x; the gradient passes straight through (E[b] = x). Inference: sign(x), with 0 → +1 so
    that every output is a bit.
    """

    def __init__(self, bits: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bits = bits
        self.conv = keras.layers.Conv2D(bits, 1, use_bias=False, name="conv")

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        x = tf.tanh(self.conv(x))
        if training:
            probability_plus = (1.0 + x) / 2.0
            b = tf.where(tf.random.uniform(tf.shape(x)) < probability_plus, 1.0, -1.0)
        else:
            b = tf.where(x >= 0.0, 1.0, -1.0)
        # Forward: exactly b (x − x is 0); backward: the gradient of x (straight through).
        return b + (x - tf.stop_gradient(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bits": self.bits}


@keras.saving.register_keras_serializable(package="shipyard")
class DepthToSpace(keras.layers.Layer):
    """The decoder's ×`block_size` upsampling (channels → space). A layer rather than a Lambda,
    so that a saved decoder reloads without executing pickled Python."""

    def __init__(self, block_size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_size = block_size

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.depth_to_space(x, self.block_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}
