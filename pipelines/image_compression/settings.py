"""Image-compression names both the pipeline and the model code use (no TensorFlow import)."""

NAME = "image_compression"
HEADLINE = "ms_ssim"
PRESETS = ("cpu", "paper")  # layer widths: the paper's ×1/4 for CPUs, or the paper's
