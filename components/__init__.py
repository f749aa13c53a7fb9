"""Custom TFX components shared by Shipyard's pipelines."""
import models  # noqa: F401  (sets the Keras-2 switch before anything imports TensorFlow)
