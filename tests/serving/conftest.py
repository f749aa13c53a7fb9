"""Fixtures of the model-server tests: TF Serving's half-plus-two test data.

scripts/make_half_plus_two.py writes that data (models and files) in a few seconds, so every
test runs on a clone. Where the machine also has TF Serving's own copy (../shared/tfserving
beside the repository, or the folder SHIPYARD_TFSERVING_TESTDATA names), the tests that take
`tfserving` run on both.
"""
from __future__ import annotations

import os

import pytest

from tests.serving.helpers import REPO, half_plus_two_script

TF_SERVING_COPY = os.environ.get("SHIPYARD_TFSERVING_TESTDATA",
                                 os.path.join(os.path.dirname(REPO), "shared", "tfserving"))
# Decided at collection: a missing copy adds no parameter, so nothing is skipped.
SOURCES = ["generated"] + (["tf-serving"] if os.path.isdir(TF_SERVING_COPY) else [])


@pytest.fixture(scope="session")
def generated_tfserving(tmp_path_factory) -> str:
    """A folder of TF Serving's half-plus-two test data as scripts/make_half_plus_two.py
    writes it."""
    return half_plus_two_script().make_half_plus_two(str(tmp_path_factory.mktemp("tfserving")))


@pytest.fixture(scope="session", params=SOURCES)
def tfserving(request) -> str:
    """A folder of TF Serving's half-plus-two test data: the generated one, and TF Serving's
    own where the machine has it."""
    if request.param == "generated":
        return request.getfixturevalue("generated_tfserving")
    return TF_SERVING_COPY
