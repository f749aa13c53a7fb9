"""Smart Reply's evaluator configuration: the issue's triggering targets gate blessing."""
import pytest

from pipelines import registry
from pipelines.cli import build_parser
from pipelines.errors import ShipyardError
from pipelines.family import PipelinePaths


def _evaluation(tmp_path, *flags):
    args = build_parser().parse_args(["run", "smart_reply", "--output-dir", str(tmp_path),
                                      *flags])
    family = registry.get(args.pipeline)
    return family.pipeline_modules(args, PipelinePaths(str(tmp_path),
                                                       family.pipeline_name)).evaluation


def test_trigger_recall_and_silence_are_floors_of_the_blessing(tmp_path):
    config = _evaluation(tmp_path).config()
    assert (config["metric"], config["threshold"], config["min_lift"]) == (
        "sensible_at_3", 0.5, 0.01)
    assert config["floors"] == {"eval_trigger_recall": 0.85, "silent_rate": 0.9}
    config = _evaluation(tmp_path, "--min-trigger-recall", "0.7", "--min-silence", "0").config()
    assert config["floors"] == {"eval_trigger_recall": 0.7, "silent_rate": 0.0}


def test_floors_outside_zero_to_one_are_refused(tmp_path):
    with pytest.raises(ShipyardError, match=r"^--min-silence must be in \[0, 1\], got 1\.5$"):
        _evaluation(tmp_path, "--min-silence", "1.5")
