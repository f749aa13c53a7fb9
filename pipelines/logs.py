"""Quiet terminal output: TensorFlow, absl and Beam keep their logs unless --verbose."""
from __future__ import annotations

import logging
import os
import warnings


def configure(verbose: bool) -> None:
    """Must run before TensorFlow is imported for the C++ log level to apply."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ["PYTHONWARNINGS"] = "ignore"  # reaches Beam worker processes too
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("tensorflow", "apache_beam", "absl", "tfx", "ml_metadata", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl arrives with TensorFlow; nothing to quiet without it
        pass


def quiet_tensorflow() -> None:
    """Re-applies quiet levels after TensorFlow import (it resets its own logger)."""
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
