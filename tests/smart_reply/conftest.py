"""The Smart Reply tests' shared tiny model."""
import pytest

from tests.smart_reply.tiny import train_tiny


@pytest.fixture(scope="session")
def smart_reply_model(tmp_path_factory):
    """The tiny model of `train_tiny`, shared by the export and mobile tests."""
    return train_tiny(tmp_path_factory.mktemp("smart_reply"))
