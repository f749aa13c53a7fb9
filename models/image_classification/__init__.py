"""TFX module code of the image-classification pipeline (Transform and Trainer)."""
