"""Image-quality measures of the rate–distortion evaluation: MS-SSIM and PSNR on uint8 RGB.

MS-SSIM follows tf.image.ssim_multiscale exactly (11-tap Gaussian, σ 1.5, valid filtering,
K1 0.01, K2 0.03, 2×2 average pooling after symmetric padding to even sizes, the per-channel
product of scales averaged over channels), in NumPy with separable filters: TensorFlow's
version took ~5 s per 512² image on the shared 2-core machine. A test pins the two together.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

# Wang et al.'s five scale weights (the paper's MS-SSIM, and tf.image.ssim_multiscale's).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE = 11
FILTER_SIGMA = 1.5
K1, K2 = 0.01, 0.03


def ms_ssim_scales(height: int, width: int) -> int:
    """How many of the five scales fit: each halves the image, and the coarsest must still hold
    the 11-pixel Gaussian window (five scales need ≥ 176 px per side)."""
    side = min(height, width)
    scales = 1
    while scales < 5 and side >= FILTER_SIZE * 2 ** scales:
        scales += 1
    return scales


def _gaussian() -> np.ndarray:
    x = np.arange(FILTER_SIZE, dtype=np.float64) - (FILTER_SIZE - 1) / 2
    g = np.exp(-x ** 2 / (2 * FILTER_SIGMA ** 2))
    return g / g.sum()


def _filter(image: np.ndarray) -> np.ndarray:
    """Separable Gaussian over (H, W) of (..., H, W, C), 'valid' part only (as TF's conv
    VALID)."""
    g = _gaussian()
    out = ndimage.correlate1d(image, g, axis=-3, mode="constant")
    out = ndimage.correlate1d(out, g, axis=-2, mode="constant")
    half = FILTER_SIZE // 2
    return out[..., half:-half, half:-half, :]


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, its local means, its local variances): what SSIM needs of one image."""
    mu = _filter(x)
    return x, mu, _filter(x * x) - mu ** 2


def _ssim_and_cs(reference: tuple[np.ndarray, np.ndarray, np.ndarray], y: np.ndarray,
                 max_val: float) -> tuple[np.ndarray, np.ndarray]:
    x, mu_x, sigma_xx = reference
    c1, c2 = (K1 * max_val) ** 2, (K2 * max_val) ** 2
    mu_y = _filter(y)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    # TF's compensation factor is 1 for Gaussian weights that sum to 1.
    sigma_xy = _filter(x * y) - mu_x * mu_y
    sigma_yy = _filter(y * y) - mu_y ** 2
    cs = (2 * sigma_xy + c2) / (sigma_xx + sigma_yy + c2)
    return (luminance * cs).mean(axis=(-3, -2)), cs.mean(axis=(-3, -2))


def ssim_and_cs(x: np.ndarray, y: np.ndarray, max_val: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel SSIM and contrast-structure means (..., C) of (..., H, W, C) images."""
    return _ssim_and_cs(_stats(x), y, max_val)


def _downsample(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="symmetric")
    return image.reshape(image.shape[0] // 2, 2, image.shape[1] // 2, 2, -1).mean(axis=(1, 3))


def ms_ssim_against(reference: np.ndarray) -> Callable[[np.ndarray], float]:
    """`ms_ssim(reference, ·)`, with the reference's side of every scale computed once: rate
    control and deblocking score many decodes of one image."""
    scales = ms_ssim_scales(*reference.shape[:2])
    weights = np.array(MS_SSIM_WEIGHTS[:scales])
    weights = weights / weights.sum()
    pyramid, x = [], reference.astype(np.float64)
    for _ in range(scales):
        pyramid.append(_stats(x))
        x = _downsample(x)

    def score(distorted: np.ndarray) -> float:
        y = distorted.astype(np.float64)
        factors = []
        for scale, stats in enumerate(pyramid):
            ssim, cs = _ssim_and_cs(stats, y, 255.0)
            factors.append(ssim if scale == scales - 1 else cs)
            y = _downsample(y)
        stacked = np.maximum(np.stack(factors), 0.0)  # (scales, channels); TF applies relu too
        return float(np.prod(stacked ** weights[:, np.newaxis], axis=0).mean())

    return score


def ms_ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """MS-SSIM of two uint8 (H, W, 3) images. Images too small for five scales use the finest
    ones with their weights renormalised to sum to 1 (Kodak-size images use all five)."""
    return ms_ssim_against(reference)(distorted)


def psnr(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (inf when identical)."""
    mse = np.mean((reference.astype(np.float64) - distorted.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
