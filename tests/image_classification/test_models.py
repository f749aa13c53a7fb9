"""Model fidelity: the builders reproduce the papers' and Keras' figures (Howard et al. 2017,
Tables 6 and 7; Szegedy et al. 2016)."""
import json

import pytest
import tf_keras as keras

from models import complexity
from models.image_classification.classifiers import build, table
from models.image_classification.inception_v3 import inception_v3
from models.image_classification.mobilenet_v1 import mobilenet_v1
from pipelines.cli import main

# Million multiply-adds per the MobileNet paper's counting rule, α × resolution.
MOBILENET_MACS = {
    (1.0, 224): 568.7, (1.0, 192): 418.1, (1.0, 160): 290.7, (1.0, 128): 186.4,
    (0.75, 224): 325.4, (0.75, 192): 239.3, (0.75, 160): 166.4, (0.75, 128): 106.8,
    (0.5, 224): 149.5, (0.5, 192): 110.0, (0.5, 160): 76.5, (0.5, 128): 49.2,
    (0.25, 224): 41.0, (0.25, 192): 30.2, (0.25, 160): 21.1, (0.25, 128): 13.6,
}
# Keras MobileNet(weights=None, classes=1000) total parameters, any resolution.
MOBILENET_PARAMS = {1.0: 4_253_864, 0.75: 2_601_976, 0.5: 1_342_536, 0.25: 475_544}


@pytest.fixture(scope="module")
def mobilenet_table():
    return table("mobilenet_v1")


def test_mobilenet_table_matches_paper_and_keras(mobilenet_table):
    assert len(mobilenet_table) == 16
    for row in mobilenet_table:
        assert row.macs_millions == MOBILENET_MACS[(row.alpha, row.resolution)], row
        assert row.params == MOBILENET_PARAMS[row.alpha], row
    paper_rounded = {(r.alpha, r.resolution): round(r.macs_millions) for r in mobilenet_table}
    assert [paper_rounded[(1.0, r)] for r in (224, 192, 160, 128)] == [569, 418, 291, 186]
    assert [paper_rounded[(a, 224)] for a in (0.75, 0.5, 0.25)] == [325, 150, 41]


def test_mobilenet_body_without_top_and_weights_without_bn():
    model = mobilenet_v1(alpha=1.0, include_top=False)
    assert model.count_params() == 3_228_864
    assert model.output_shape == (None, 7, 7, 1024)
    full = mobilenet_v1(alpha=1.0)
    # Conv / depthwise / classifier weights + classifier bias, no batch norm: the paper's 4.2 M.
    non_bn = sum(int(w.shape.num_elements()) for layer in full.layers
                 if not isinstance(layer, keras.layers.BatchNormalization)
                 for w in layer.weights)
    assert non_bn == 4_210_088


def test_mobilenet_structure_follows_table_1():
    model = mobilenet_v1(alpha=1.0, resolution=224)
    depthwise = [layer for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    assert len(depthwise) == 13
    assert [layer.strides[0] for layer in depthwise] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    assert model.get_layer("conv_pw_13_relu").output_shape == (None, 7, 7, 1024)


def test_mobilenet_depth_multiplier_and_small_resolution():
    model = mobilenet_v1(resolution=32, alpha=0.25, depth_multiplier=2, classes=10)
    assert model.output_shape == (None, 10)
    dw = model.get_layer("conv_dw_1")
    assert dw.output_shape[-1] == 2 * int(32 * 0.25)
    with pytest.raises(ValueError, match="at least 32"):
        mobilenet_v1(resolution=16)


def test_inception_v3_matches_keras_and_paper():
    (row,) = table("inception_v3")
    assert row.params == 23_851_784
    assert row.resolution == 299
    assert 5_700 < row.macs_millions < 5_750  # ≈ 5.7 G multiply-adds (11.47 GFLOPs)
    model = inception_v3()
    shapes = {name: model.get_layer(name).output_shape[1:] for name in
              ("mixed0", "mixed1", "mixed2", "mixed3", "mixed7", "mixed8", "mixed9", "mixed10")}
    assert shapes == {"mixed0": (35, 35, 256), "mixed1": (35, 35, 288), "mixed2": (35, 35, 288),
                      "mixed3": (17, 17, 768), "mixed7": (17, 17, 768), "mixed8": (8, 8, 1280),
                      "mixed9": (8, 8, 2048), "mixed10": (8, 8, 2048)}
    no_top = inception_v3(include_top=False)
    assert no_top.count_params() == 21_802_784


def test_inception_v3_minimum_input():
    assert inception_v3(resolution=75, classes=10).output_shape == (None, 10)
    with pytest.raises(ValueError, match="at least 75"):
        inception_v3(resolution=74)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model 'resnet'.*inception_v3, mobilenet_v1"):
        build("resnet")


def test_complexity_counts_dense_and_depthwise():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inputs)
    x = keras.layers.Conv2D(6, 1)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, x)
    assert complexity.count_macs(model) == 8 * 8 * 9 * 4 * 2 + 8 * 8 * 8 * 6 + 6 * 5


def test_cli_models_table_json(capsys):
    assert main(["models", "table", "inception_v3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"model": "inception_v3", "alpha": None, "resolution": 299,
                     "macs_millions": rows[0]["macs_millions"], "params": 23_851_784}]
    assert set(rows[0]) == {"model", "alpha", "resolution", "macs_millions", "params"}


def test_cli_models_table_markdown(capsys, mobilenet_table):
    assert main(["models", "table", "mobilenet_v1"]) == 0
    out = capsys.readouterr().out
    assert "| mobilenet_v1 | 1 | 224 | 568.7 | 4,253,864 |" in out
    assert "| mobilenet_v1 | 0.25 | 128 | 13.6 | 475,544 |" in out
