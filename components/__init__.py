"""Custom TFX components shared by Shipyard's pipelines."""
import os

# TFMO rejects Keras 3 models: TensorFlow must pick Keras 2 before anything imports it.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
