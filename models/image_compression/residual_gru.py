"""Residual-GRU image codec (Toderici et al., "Full Resolution Image Compression with Recurrent
Neural Networks", CVPR 2017, arXiv:1608.05148), in tf_keras.

One coding iteration t, on a patch x in [-0.5, 0.5] (figure 1 and eq. 3 of the paper):

    b_t = B(E_t(r_{t-1})),   x̂_t = D_t(b_t) + γ·x̂_{t-1},   r_t = x − x̂_t,   r_0 = x

E and D are recurrent: their ConvGRU states persist from one iteration to the next. γ = 0 is
"one-shot" reconstruction (D predicts the whole image every iteration), γ = 1 "additive" (D
predicts what is left). Each iteration emits H/16 × W/16 × 32 bits = 1/8 bit per pixel.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf

from models.image_compression.layers import Binarizer, ConvGRU, DepthToSpace
from models.keras2 import keras

PATCH = 32  # training patch side (Toderici et al. 2017), and the tile side of inference
DOWNSAMPLING = 16  # the encoder's total stride: one 32-bit code per 16×16 pixels


@dataclasses.dataclass(frozen=True)
class Widths:
    """Layer widths; the paper's, or scaled for a CPU (bits stays 32: 1/8 bpp per iteration)."""

    encoder_conv: int = 64
    encoder_grus: tuple[int, int, int] = (256, 512, 512)
    bits: int = 32
    decoder_conv: int = 512
    decoder_grus: tuple[int, int, int, int] = (512, 512, 256, 128)
    # Hidden-state (U) kernels of the decoder GRUs: 3×3 in the last two, the two at the
    # highest resolution, where a state sees its neighbours' detail (as open reimplementations
    # of the paper do); codecs saved before this field had 1×1 everywhere.
    decoder_hidden_kernels: tuple[int, int, int, int] = (1, 1, 3, 3)

    @classmethod
    def from_dict(cls, w: dict[str, Any]) -> Widths:
        """Widths from a saved codec.json's `widths` (older files: 1×1 hidden kernels)."""
        return cls(w["encoder_conv"], tuple(w["encoder_grus"]), w["bits"], w["decoder_conv"],
                   tuple(w["decoder_grus"]),
                   tuple(w.get("decoder_hidden_kernels", LEGACY_DECODER_HIDDEN_KERNELS)))

    def scaled(self, alpha: float) -> Widths:
        def scale(n: int) -> int:
            return max(4, int(round(n * alpha / 4)) * 4)  # d2s needs channels divisible by 4

        return Widths(scale(self.encoder_conv), tuple(scale(n) for n in self.encoder_grus),
                      self.bits, scale(self.decoder_conv),
                      tuple(scale(n) for n in self.decoder_grus), self.decoder_hidden_kernels)


LEGACY_DECODER_HIDDEN_KERNELS = (1, 1, 1, 1)


PAPER = Widths()
# The CPU default: every width ×1/4, 1×1 hidden kernels (3×3 ones in the last two decoder GRUs
# cost 1.8× the time of a training step on 2 CPU cores: docs/image_compression.md).
CPU = dataclasses.replace(PAPER.scaled(0.25),
                          decoder_hidden_kernels=LEGACY_DECODER_HIDDEN_KERNELS)
PRESETS = {"paper": PAPER, "cpu": CPU}


def encoder_state_shapes(widths: Widths, height: int | None, width: int | None
                         ) -> list[tuple[int | None, int | None, int]]:
    """Shapes (without batch) of the encoder's three GRU states for an input image."""
    def at(stride: int, channels: int):
        return (None if height is None else height // stride,
                None if width is None else width // stride, channels)

    return [at(4, widths.encoder_grus[0]), at(8, widths.encoder_grus[1]),
            at(16, widths.encoder_grus[2])]


def decoder_state_shapes(widths: Widths, height: int | None, width: int | None
                         ) -> list[tuple[int | None, int | None, int]]:
    """Shapes (without batch) of the decoder's four GRU states for an output image."""
    def at(stride: int, channels: int):
        return (None if height is None else height // stride,
                None if width is None else width // stride, channels)

    g = widths.decoder_grus
    return [at(16, g[0]), at(8, g[1]), at(4, g[2]), at(2, g[3])]


def encoder(widths: Widths = CPU, residual: bool = True, height: int | None = None,
            width: int | None = None, name: str = "encoder") -> keras.Model:
    """E_t + B: `[r, h1, h2, h3]` → `[bits, h1', h2', h3']`.

    conv 3×3/2 (64) → ConvGRU 3×3/2 (256) → ConvGRU 3×3/2 (512) → ConvGRU 3×3/2 (512) →
    binarizer (1×1 conv to 32, tanh, ±1). Bits are ±1 floats of shape (H/16, W/16, 32).
    """
    residual_in = keras.Input((height, width, 3), name="residual")
    states = [keras.Input(shape, name=f"encoder_state_{i + 1}")
              for i, shape in enumerate(encoder_state_shapes(widths, height, width))]
    x = keras.layers.Conv2D(widths.encoder_conv, 3, strides=2, padding="same",
                            name="conv")(residual_in)
    new_states = []
    for i, (filters, state) in enumerate(zip(widths.encoder_grus, states, strict=True)):
        x, h = ConvGRU(filters, kernel_size=3, strides=2, residual=residual,
                       name=f"gru_{i + 1}")([x, state])
        new_states.append(h)
    bits = Binarizer(widths.bits, name="binarizer")(x)
    return keras.Model([residual_in, *states], [bits, *new_states], name=name)


def decoder(widths: Widths = CPU, residual: bool = True, height: int | None = None,
            width: int | None = None, name: str = "decoder") -> keras.Model:
    """D_t: `[bits, g1, g2, g3, g4]` → `[image, g1', g2', g3', g4']`.

    1×1 conv (512) → ConvGRU 512 → depth-to-space ×2 → ConvGRU 512 → d2s → ConvGRU 256 → d2s
    → ConvGRU 128 → d2s → 1×1 conv to RGB, hidden kernels `widths.decoder_hidden_kernels`.
    `height`, `width` are the image's (bits are /16).
    """
    bits = keras.Input((None if height is None else height // DOWNSAMPLING,
                        None if width is None else width // DOWNSAMPLING, widths.bits),
                       name="bits")
    states = [keras.Input(shape, name=f"decoder_state_{i + 1}")
              for i, shape in enumerate(decoder_state_shapes(widths, height, width))]
    x = keras.layers.Conv2D(widths.decoder_conv, 1, name="conv")(bits)
    new_states = []
    for i, (filters, hidden, state) in enumerate(zip(
            widths.decoder_grus, widths.decoder_hidden_kernels, states, strict=True)):
        x, h = ConvGRU(filters, kernel_size=3, strides=1, hidden_kernel_size=hidden,
                       residual=residual, name=f"gru_{i + 1}")([x, state])
        new_states.append(h)
        x = DepthToSpace(2, name=f"depth_to_space_{i + 1}")(x)
    image = keras.layers.Conv2D(3, 1, name="to_rgb")(x)
    return keras.Model([bits, *states], [image, *new_states], name=name)


def zero_states(shapes: list[tuple[int | None, int | None, int]], batch: tf.Tensor,
                height: tf.Tensor, width: tf.Tensor, strides: list[int]) -> list[tf.Tensor]:
    return [tf.zeros(tf.stack([batch, height // s, width // s, shape[-1]]))
            for shape, s in zip(shapes, strides, strict=True)]


ENCODER_STRIDES = [4, 8, 16]
DECODER_STRIDES = [16, 8, 4, 2]


class ResidualGRUCodec(keras.Model):
    """The iterative codec: `iterations` rounds of encode → binarize → decode on the residual.

    Called on images (B, H, W, 3) in [-0.5, 0.5] with H, W multiples of 16, it returns the
    reconstructions after every iteration, (iterations, B, H, W, 3), and adds the training loss:
    the L1 norm of the residual, summed over iterations (mean over pixels).
    """

    def __init__(self, widths: Widths = CPU, iterations: int = 8, gamma: float = 1.0,
                 residual: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if gamma not in (0.0, 1.0):
            raise ValueError(f"gamma must be 0 (one-shot) or 1 (additive), got {gamma}")
        self.widths = widths
        self.iterations = iterations
        self.gamma = float(gamma)
        self.residual = residual
        self.encoder = encoder(widths, residual)
        self.decoder = decoder(widths, residual)

    def initial_states(self, images: tf.Tensor) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        shape = tf.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        return (zero_states(encoder_state_shapes(self.widths, None, None), batch, height, width,
                            ENCODER_STRIDES),
                zero_states(decoder_state_shapes(self.widths, None, None), batch, height, width,
                            DECODER_STRIDES))

    def encode(self, images: tf.Tensor, iterations: int | None = None,
               training: bool = False) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        """Bits (±1, (B, H/16, W/16, 32)) and reconstructions of each iteration.

        Encoding runs the decoder too: the next residual depends on what the decoder makes of
        the bits so far.
        """
        encoder_states, decoder_states = self.initial_states(images)
        reconstruction = tf.zeros_like(images)
        residual = images
        codes, reconstructions = [], []
        for _ in range(iterations or self.iterations):
            bits, *encoder_states = self.encoder([residual, *encoder_states], training=training)
            decoded, *decoder_states = self.decoder([bits, *decoder_states], training=training)
            reconstruction = decoded + self.gamma * reconstruction
            residual = images - reconstruction
            codes.append(bits)
            reconstructions.append(reconstruction)
        return codes, reconstructions

    def decode(self, codes: list[tf.Tensor]) -> list[tf.Tensor]:
        """Reconstructions after each iteration from the bits alone (what a receiver does)."""
        bits = codes[0]
        shape = tf.shape(bits)
        images = tf.zeros(tf.stack([shape[0], shape[1] * DOWNSAMPLING,
                                    shape[2] * DOWNSAMPLING, 3]))
        _, decoder_states = self.initial_states(images)
        reconstruction = images
        reconstructions = []
        for bits in codes:
            decoded, *decoder_states = self.decoder([bits, *decoder_states], training=False)
            reconstruction = decoded + self.gamma * reconstruction
            reconstructions.append(reconstruction)
        return reconstructions

    def call(self, images: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        _, reconstructions = self.encode(images, training=bool(training))
        stacked = tf.stack(reconstructions)
        # Σ_t mean |r_t|: every iteration is trained to shrink what the previous ones left.
        self.add_loss(tf.reduce_sum(tf.reduce_mean(tf.abs(images[tf.newaxis] - stacked),
                                                   axis=[1, 2, 3, 4])))
        return stacked

    def get_config(self) -> dict[str, Any]:
        return {"widths": dataclasses.asdict(self.widths), "iterations": self.iterations,
                "gamma": self.gamma, "residual": self.residual}


def residual_gru_codec(preset: str = "cpu", alpha: float | None = None, iterations: int = 8,
                       gamma: float = 1.0, residual: bool = True,
                       learning_rate: Any = 1e-3, jit_compile: bool = False
                       ) -> ResidualGRUCodec:
    """Builds and compiles the codec: `preset` "paper" (the CVPR 2017 widths) or "cpu" (×1/4);
    `alpha` rescales the paper's widths instead (the binarizer keeps 32 bits)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    widths = PAPER.scaled(alpha) if alpha is not None else PRESETS[preset]
    model = ResidualGRUCodec(widths, iterations=iterations, gamma=gamma, residual=residual,
                             name="residual_gru_codec")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile)
    model(tf.zeros([1, PATCH, PATCH, 3]))  # builds the weights
    return model


def bits_per_iteration(height: int, width: int, widths: Widths = CPU) -> int:
    """Bits one iteration spends on an H×W image (H, W multiples of 16): H·W/8 at 32 bits."""
    return (height // DOWNSAMPLING) * (width // DOWNSAMPLING) * widths.bits
