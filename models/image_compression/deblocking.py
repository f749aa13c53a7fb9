"""Deblocking: smoothing the seams between the codec's independently coded 32×32 tiles.

Each tile is coded on its own, so at low rates neighbouring tiles disagree at their shared edge
and the picture shows a grid, which eyes and MS-SSIM both punish. As in block codecs' loop
filters (H.264 §8.7), a step across a tile edge that is small enough to be a seam rather than an
edge of the picture is spread over a ramp of a few pixels either side; the larger the step
(relative to `THRESHOLD`), the less it is touched. How hard to smooth depends on the image and
the rate, so the encoder tries the levels in turn and the file records the best (one byte of
the .rgc header; 0 is no filter), the decoder applies it. The levels and the threshold were
set from a probe on the training photos' decodes at 0.125–0.5 bpp.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

TILE = 32
THRESHOLD = 64.0  # a step (0..255) this large or larger across an edge is left alone
# Level ℓ ≥ 1: (pixels either side of an edge that move, share of the ramp corrected), from
# light to heavy. On the training photos wide ramps won at 0.125 bpp, narrow ones from 0.25.
LEVELS = ((1, 0.5), (2, 0.75), (2, 1.0), (3, 1.0), (4, 1.0), (6, 1.0), (6, 1.25))
MAX_WIDTH = max(width for width, _ in LEVELS)


def shares(width: int) -> tuple[float, ...]:
    """One side's share of the step for pixel i (0 = next to the edge): a straight ramp over
    2·width pixels, 0 beyond the width."""
    return tuple(max(width - i, 0) / (2 * width + 1) for i in range(MAX_WIDTH))


def _along_rows(x: np.ndarray, width: int, strength: float) -> None:
    """Filters the horizontal tile edges of float image `x` (H, W, C) in place."""
    height = x.shape[0]
    edges = np.arange(TILE, height, TILE)
    if not len(edges):
        return
    step = x[edges] - x[edges - 1]
    change = strength * np.clip(1 - np.abs(step) / THRESHOLD, 0, 1) * step
    for i, share in enumerate(shares(width)[:width]):
        x[edges - 1 - i] += share * change
        below = edges + i < height  # the last edge may lie near the bottom of the picture
        x[(edges + i)[below]] -= share * change[below]


def deblock(image: np.ndarray, level: int) -> np.ndarray:
    """uint8 image (H, W, C) → the image with its tile edges filtered at `level` (0: as is)."""
    if not 0 <= level <= len(LEVELS):
        raise ValueError(f"deblocking level must be in 0..{len(LEVELS)}, got {level}")
    if level == 0:
        return image
    width, strength = LEVELS[level - 1]
    x = image.astype(np.float64)
    _along_rows(x, width, strength)
    columns = x.transpose(1, 0, 2)  # a view: filtering it filters x's vertical edges
    _along_rows(columns, width, strength)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def best_level(decoded: np.ndarray, score: Callable[[np.ndarray], float], start: int = 0
               ) -> tuple[int, np.ndarray, float]:
    """(level, filtered image, its score) that `score` (against the original) rates highest.
    The score rises to one peak along the levels and falls, so the search climbs from `start`
    (a guess, such as the level of a similar decode) in whichever direction improves."""
    def scored(level: int) -> tuple[int, np.ndarray, float]:
        filtered = deblock(decoded, level)
        return level, filtered, score(filtered)

    best = scored(start)
    for direction in (1, -1):
        moved = False
        while 0 <= best[0] + direction <= len(LEVELS):
            candidate = scored(best[0] + direction)
            if candidate[2] <= best[2]:
                break
            best, moved = candidate, True
        if moved:
            break
    return best
