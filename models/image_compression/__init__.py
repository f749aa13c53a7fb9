"""Residual-GRU image compression (Toderici et al., CVPR 2017): model, codec, pipeline modules."""
