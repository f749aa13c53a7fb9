"""Image-classification names both the pipeline and the model code use (no TensorFlow import)."""

NAME = "image_classification"
ACCURACY = "sparse_categorical_accuracy"  # the Keras metric TFMA reports and the gate reads
MODELS = ("mobilenet_v1", "inception_v3")
