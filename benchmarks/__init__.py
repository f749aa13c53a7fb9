"""Reproducible benchmarks: `python -m benchmarks.NAME`; results in benchmarks/results/."""
# Imported first so that a results file's start time and start load average are the run's.
import models  # noqa: F401  (sets the Keras-2 switch before anything imports TensorFlow)
from benchmarks import results as _results  # noqa: F401
