"""tf_keras (Keras 2, which TFMO needs), with AutoGraph kept out of its layer code.

Model code imports `keras` from here. AutoGraph leaves the `keras` package alone but not
`tf_keras`, so tracing a model re-converted the Python of every Keras layer call: Inception v3's
first train step took 100 s to trace instead of 23 s. Skip tf_keras as TensorFlow skips keras.
"""
import tf_keras as keras


def _keep_autograph_out_of_tf_keras() -> None:
    try:
        from tensorflow.python.autograph.core import config, config_lib
    except ImportError:  # a TensorFlow without this layout: tracing is slower, not wrong
        return
    if not any(isinstance(rule, config_lib.DoNotConvert) and rule.matches("tf_keras")
               for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (config_lib.DoNotConvert("tf_keras"),
                                   *config.CONVERSION_RULES)


_keep_autograph_out_of_tf_keras()

__all__ = ["keras"]
