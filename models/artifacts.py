"""The folders inside a Trainer's `model` artifact (`<model_uri>/<folder>/`), named once.

No TensorFlow import: the CLI's report (pipelines/report.py) reads these names too.
"""
from __future__ import annotations

# TFX's own Trainer writes the serving SavedModel here (`fn_args.serving_model_dir`;
# tfx.utils.path_utils.serving_model_dir); the Evaluator, Pusher and InfraValidator read it
# through path_utils. The name is TFX's: this constant only spells it for our own readers.
SERVING_DIR = "Format-Serving"
# The bare Keras model (or its weights and settings) for the mobile components, which need the
# Keras graph the serving SavedModel does not give back. Written by the families' Trainers.
KERAS_DIR = "Format-Keras"
# Smart Reply: the response set (`response_set.json`) the model's clusters are defined by.
RESPONSE_SET_DIR = "Format-ResponseSet"
# Smart Reply: the on-device model and the host's files (models/smart_reply/device.py).
MOBILE_DIR = "Format-Mobile"
