"""Shipyard's TFX pipelines, the family registry, their runners and the CLI."""
import models  # noqa: F401  (sets the Keras-2 switch before anything imports TensorFlow)
