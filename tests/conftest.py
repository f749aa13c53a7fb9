"""Shared test setup. Importing `models` first sets Shipyard's Keras-2 switch before any test
imports TensorFlow."""
import os

import models  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
