"""Shipyard's TF-Serving-compatible model server: config/ (TF Serving's flags and config files),
core/ (versions, loading, warm-up, the version manager), api/ (REST, gRPC, batching, metrics,
request logs); server.py runs them, deploy_config.py writes config for real TF Serving."""
