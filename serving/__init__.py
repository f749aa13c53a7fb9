"""Shipyard's TF-Serving-compatible model server, its config, batching, warm-up and metrics."""
import os

# TFMO rejects Keras 3 models: TensorFlow must pick Keras 2 before anything imports it.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
