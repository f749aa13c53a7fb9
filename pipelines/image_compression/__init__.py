"""The image-compression pipeline: the Residual-GRU codec on photos."""
