"""Keras (tf_keras) model code of Shipyard's model families and their TFX module files."""
import os

# TFMO rejects Keras 3 models: TensorFlow must pick Keras 2 before anything imports it.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
