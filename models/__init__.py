"""Keras (tf_keras) model code of Shipyard's model families and their TFX module files."""
import os

# TFMO rejects Keras 3 models: TensorFlow must pick Keras 2 before anything imports it.
os.environ["TF_USE_LEGACY_KERAS"] = "1"


def _keep_autograph_out_of_tf_keras() -> None:
    """AutoGraph leaves the `keras` package alone but not `tf_keras`, so tracing a model
    re-converted the Python of every Keras layer call: Inception v3's first train step took
    100 s to trace instead of 23 s. Skip tf_keras as TensorFlow skips keras."""
    try:
        from tensorflow.python.autograph.core import config, config_lib
    except ImportError:  # a TensorFlow without this layout: tracing is slower, not wrong
        return
    if not any(isinstance(rule, config_lib.DoNotConvert) and rule.matches("tf_keras")
               for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (config_lib.DoNotConvert("tf_keras"),
                                   *config.CONVERSION_RULES)


_keep_autograph_out_of_tf_keras()
