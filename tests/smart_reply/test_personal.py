"""Smart Reply personalised (the data has a user column): the serving signature takes
`users`, the on-device model `user_id`; a user the model never saw gets id 0 on both; the
phone's suggestions agree with the server's for every user; `shipyard reply --user`."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from models.smart_reply import device, export, trainer
from models.smart_reply import mobile as hook
from pipelines.cli import main
from tests.smart_reply.tiny import train_tiny

USERS = ["u0", "u1", "u2"]
MESSAGE = "What is your favorite color?"


@pytest.fixture(scope="module")
def personal(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("smart_reply_personal"), users=USERS,
                      held_out_size=24, train_steps=10)


def test_signature_takes_users_and_maps_unknown_ones_to_zero(personal):
    signature = tf.saved_model.load(personal.serving).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["messages", "users"]
    out = export.call(signature, [MESSAGE] * 4, ["u0", "u1", "stranger", ""])
    # Both unknown names are user 0 (the embedding learned for "anyone else").
    np.testing.assert_array_equal(out["scores"][2], out["scores"][3])
    assert out["replies"][2].tolist() == out["replies"][3].tolist()
    # Known users shift stage 1's distribution, hence every score.
    assert not np.allclose(out["scores"][0], out["scores"][1], atol=1e-6)


def test_phone_takes_user_ids_and_agrees_with_the_server(personal):
    mobile_dir = os.path.join(personal.model_uri, trainer.MOBILE_DIR)
    with open(os.path.join(mobile_dir, device.USERS_FILE)) as f:
        assert f.read().splitlines() == USERS  # line i is user id i + 1
    with open(os.path.join(mobile_dir, device.SETTINGS_FILE)) as f:
        assert "user_id: int32 [1]" in json.load(f)["input"]
    x, _ = hook.load_split(None, personal.examples, "eval", model_uri=personal.model_uri)
    assert x.users == [p["user"] for p in personal.held_out]
    assert x.user_ids.tolist() == [(i % 4 + 1) % 4 for i in range(24)]  # u3: unknown → 0
    model_bytes = hook.convert(hook.load_model(personal.model_uri), "float32", None, "uint8")
    phone = hook.tflite_predict(model_bytes, x)
    served = hook.reference_predict(None, x)
    assert hook.agreement(phone, served) >= 0.95
    np.testing.assert_allclose(phone["trigger_score"], served["trigger_score"], atol=1e-5)
    runner = hook.litert_runner(model_bytes)
    ids = x.context_ids[:1]
    scores = [runner(context_ids=ids, user_id=np.array([u], np.int32))["scores"]
              for u in (1, 2)]
    assert not np.allclose(scores[0], scores[1], atol=1e-6)


def test_reply_command_passes_the_user(personal, capsys):
    for user in ("u1", "stranger"):
        assert main(["reply", MESSAGE, "--model", personal.serving, "--user", user,
                     "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert len(result["replies"]) == 3 and len(set(result["cluster_ids"])) == 3
