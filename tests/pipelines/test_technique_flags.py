"""The trainer techniques' flags reach every family's Trainer config, checked like the others."""
import pytest

from pipelines import registry
from pipelines.cli import build_parser, main
from pipelines.family import PipelinePaths

FLAGS = ["--swa-start", "0.75", "--adabatch-stages", "3", "--jit-compile"]


def _custom_config(family, tmp_path, *flags) -> dict:
    name = family.name.replace("_", "-")
    args = build_parser(None, name).parse_args(["config", "show", name, *flags])
    paths = PipelinePaths(str(tmp_path), family.pipeline_name)
    return family.pipeline_modules(args, paths).custom_config


@pytest.mark.parametrize("family", registry.all_families(), ids=lambda f: f.name)
def test_every_trainer_gets_the_techniques(family, tmp_path):
    defaults = _custom_config(family, tmp_path)
    assert {k: defaults[k] for k in ("swa_start", "adabatch_stages", "mixed_precision",
                                     "jit_compile")} == {
        "swa_start": 0.0, "adabatch_stages": 1, "mixed_precision": "off", "jit_compile": False}
    config = _custom_config(family, tmp_path, *FLAGS)
    assert (config["swa_start"], config["adabatch_stages"], config["jit_compile"]) == (
        0.75, 3, True)


def test_mixed_precision_only_where_checked(tmp_path, capsys):
    family = registry.get("image_classification")
    config = _custom_config(family, tmp_path, "--mixed-precision", "mixed_bfloat16")
    assert config["mixed_precision"] == "mixed_bfloat16"
    capsys.readouterr()
    assert main(["config", "show", "translation", "--mixed-precision", "mixed_float16"]) == 2
    assert capsys.readouterr().err == ("error: --mixed-precision is not supported by translation "
                                       "yet (its models are not checked in 16 bits); use off\n")


@pytest.mark.parametrize("flags, message", [
    (["--swa-start", "1"], "--swa-start must be in [0, 1), got 1.0"),
    (["--adabatch-stages", "0"], "--adabatch-stages must be at least 1, got 0"),
])
def test_bad_technique_settings_are_one_line_errors(flags, message, capsys):
    capsys.readouterr()
    assert main(["config", "show", "image-classification", *flags]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
