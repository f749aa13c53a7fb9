import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Session fixtures of the image-compression tests (one tiny trained codec they all share).
pytest_plugins = ["tests.image_compression_fixtures"]
