"""The learning-rate schedules models/training.py builds (no TensorFlow import: the CLI
lists them)."""

LR_SCHEDULES = ("constant", "cosine", "step")
