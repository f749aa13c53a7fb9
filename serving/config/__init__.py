"""The server's configuration: TF Serving's flags, the model config, and the batching,
monitoring and SSL config files."""
