"""Keras (tf_keras) model code of Shipyard's model families and their TFX module files.

This is the one place that sets the Keras-2 switch: TFMO rejects Keras 3 models, so TensorFlow
must pick Keras 2 before anything imports it. `pipelines`, `components` and `benchmarks` import
this package first for that reason; it imports no TensorFlow itself.
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
