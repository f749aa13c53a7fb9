"""The image-classification pipeline: MobileNet v1 / Inception v3 on labelled images."""
