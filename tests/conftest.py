import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Session fixtures shared across test modules: one tiny trained image codec, one tiny trained
# Smart Reply model.
pytest_plugins = ["tests.image_compression_fixtures", "tests.smart_reply_fixtures"]
