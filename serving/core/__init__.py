"""What serves models, whatever the API: version discovery, loading, the version manager,
warm-up and errors (TF Serving's core/)."""
