"""Reproducible benchmarks; each writes its results under benchmarks/results/."""
import models  # noqa: F401  (sets the Keras-2 switch before anything imports TensorFlow)
