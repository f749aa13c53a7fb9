"""Training input of the Residual-GRU codec: a fresh random 32×32 crop of a whole photo every
time, flipped at random, its colour channels shuffled half the time, drawn more often where the
photo is busy.

Toderici et al. 2017 trained on the 32×32 tiles of each image that PNG compresses worst; here
every crop position is weighted by the standard deviation of its pixels plus a floor (a quarter
of the mean), so textured regions dominate without flat ones vanishing from training. A fixed
grid of patches cut once sees each pixel at one alignment; random positions and flips give the
model new patches every step. The bundled training photos are mostly grey or warm (a cat,
coffee, brick, a rocket): a codec trained on them alone brings a held-out photo's dark greens
back redder. Shuffling a crop's R, G and B turns its reds into greens and blues, so every hue is
seen as often as the photos' warm ones; the other half keeps the photos' own colours.
TensorFlow-free (numpy), so the sampler is tested on its own.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

PATCH = 32
STRIDE = 4  # candidate crop positions every 4 pixels: fine enough, and few weights to keep
FLOOR = 0.25  # of the mean weight: flat regions are still drawn, less often
SHUFFLE = 0.5  # share of crops whose colour channels are shuffled (a permutation other than RGB)
# The five orders of R, G, B other than the photo's own.
_ORDERS = np.array([(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)])


def window_std(image: np.ndarray, size: int = PATCH, stride: int = STRIDE
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ys, xs, std): top-left corners of every size×size window on a `stride` grid (always
    including the last position), and the standard deviation of each window's pixels."""
    height, width = image.shape[:2]
    ys = np.unique(np.r_[np.arange(0, height - size + 1, stride), height - size])
    xs = np.unique(np.r_[np.arange(0, width - size + 1, stride), width - size])
    grey = image.astype(np.float64).mean(axis=-1)
    # Integral images of x and x²: every window's sum in four lookups.
    s1 = np.pad(grey, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    s2 = np.pad(grey ** 2, ((1, 0), (1, 0))).cumsum(0).cumsum(1)

    def window_sum(s: np.ndarray) -> np.ndarray:
        y0, x0 = ys[:, None], xs[None, :]
        return s[y0 + size, x0 + size] - s[y0, x0 + size] - s[y0 + size, x0] + s[y0, x0]

    n = size * size
    mean = window_sum(s1) / n
    variance = np.maximum(window_sum(s2) / n - mean ** 2, 0.0)
    return ys, xs, np.sqrt(variance)


class CropSampler:
    """Draws batches of random crops from `photos` (uint8 (H, W, 3), each at least 32 a side);
    `shuffle`: the share of crops whose channels come in another order."""

    def __init__(self, photos: Sequence[np.ndarray], seed: int = 0,
                 shuffle: float = SHUFFLE) -> None:
        if not photos:
            raise ValueError("no training photos")
        self.photos = list(photos)
        positions, weights = [], []
        for i, photo in enumerate(self.photos):
            if min(photo.shape[:2]) < PATCH:
                raise ValueError(f"training photo {i} is {photo.shape[1]}×{photo.shape[0]}, "
                                 f"smaller than a {PATCH}×{PATCH} crop")
            ys, xs, std = window_std(photo)
            yy, xx = np.meshgrid(ys, xs, indexing="ij")
            positions.append(np.stack([np.full(yy.size, i), yy.ravel(), xx.ravel()], axis=1))
            weights.append(std.ravel())
        self.positions = np.concatenate(positions)
        weight = np.concatenate(weights)
        weight = weight + FLOOR * max(float(weight.mean()), 1e-6)
        self.probabilities = weight / weight.sum()
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int) -> np.ndarray:
        """(batch, 32, 32, 3) float32 in [-0.5, 0.5]: a crop per draw, each flipped left-right
        and / or upside down with probability 1/2, its channels reordered with probability
        `shuffle` (each of the five other orders alike)."""
        picks = self.positions[self.rng.choice(len(self.positions), batch_size,
                                               p=self.probabilities)]
        flips = self.rng.random((batch_size, 2)) < 0.5
        orders = np.where(self.rng.random((batch_size, 1)) < self.shuffle,
                          _ORDERS[self.rng.integers(0, len(_ORDERS), batch_size)], (0, 1, 2))
        out = np.empty((batch_size, PATCH, PATCH, 3), np.float32)
        for j, ((i, y, x), (lr, ud), order) in enumerate(zip(picks, flips, orders,
                                                              strict=True)):
            crop = self.photos[i][y: y + PATCH, x: x + PATCH]
            if lr:
                crop = crop[:, ::-1]
            if ud:
                crop = crop[::-1]
            out[j] = crop[..., order]
        return out / 255.0 - 0.5

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        while True:
            yield self.sample(batch_size)
