"""Image-quality measures of the rate–distortion evaluation: MS-SSIM and PSNR on uint8 RGB."""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np
import tensorflow as tf

# Wang et al.'s five scale weights (the paper's MS-SSIM, and tf.image.ssim_multiscale's).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE = 11


def ms_ssim_scales(height: int, width: int) -> int:
    """How many of the five scales fit: each halves the image, and the coarsest must still hold
    the 11-pixel Gaussian window (five scales need ≥ 176 px per side)."""
    side = min(height, width)
    scales = 1
    while scales < 5 and side >= FILTER_SIZE * 2 ** scales:
        scales += 1
    return scales


def ms_ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """MS-SSIM of two uint8 (H, W, 3) images. Images too small for five scales use the finest
    ones with their weights renormalised to sum to 1 (documented; Kodak-size images use all 5)."""
    scales = ms_ssim_scales(*reference.shape[:2])
    weights = np.array(MS_SSIM_WEIGHTS[:scales])
    weights = (weights / weights.sum()).tolist()
    value = tf.image.ssim_multiscale(tf.constant(reference[np.newaxis], tf.float32),
                                     tf.constant(distorted[np.newaxis], tf.float32),
                                     max_val=255.0, power_factors=weights,
                                     filter_size=FILTER_SIZE)
    return float(value[0])


def psnr(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (inf when identical)."""
    mse = np.mean((reference.astype(np.float64) - distorted.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
