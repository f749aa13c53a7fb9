"""Shipyard's TF-Serving-compatible model server: config/ (TF Serving's flags and config files),
core/ (versions, loading, warm-up, the version manager), api/ (REST, gRPC, batching, metrics,
request logs); server.py runs them, deploy_config.py writes config for real TF Serving."""
import os

# TFMO rejects Keras 3 models: TensorFlow must pick Keras 2 before anything imports it.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
