"""The learning-rate schedules and dtype policies models/training.py applies (no TensorFlow
import: the CLI lists them)."""

LR_SCHEDULES = ("constant", "cosine", "step")
# Keras dtype policies of --mixed-precision ("off": float32).
PRECISIONS = ("off", "mixed_float16", "mixed_bfloat16")
