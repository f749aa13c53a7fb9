"""The shared one-line checks of pipeline settings."""
import argparse

import pytest

from pipelines import arguments
from pipelines.errors import ShipyardError


def _args(**values):
    return argparse.Namespace(**values)


def test_checks_name_the_flag_and_the_bad_value():
    with pytest.raises(ShipyardError, match=r"^--train-steps must be at least 1, got 0$"):
        arguments.check_training(_args(train_steps=0, eval_steps=1, batch_size=1,
                                       learning_rate=0.1))
    with pytest.raises(ShipyardError, match=r"^--learning-rate must be positive, got -1.0$"):
        arguments.check_training(_args(train_steps=1, eval_steps=1, batch_size=1,
                                       learning_rate=-1.0))
    with pytest.raises(ShipyardError, match=r"^--clusters must be at least 2, got 1$"):
        arguments.at_least(_args(clusters=1), 2, "clusters")
    with pytest.raises(ShipyardError, match=r"^--dropout must be in \[0, 1\), got 1.0$"):
        arguments.within(_args(dropout=1.0), 0, 1, "dropout", open_high=True)
    with pytest.raises(ShipyardError, match=r"^--min-bleu must be in \[0, 100\], got 101$"):
        arguments.within(_args(min_bleu=101), 0, 100, "min_bleu")


def test_unset_optional_settings_and_edges_pass():
    arguments.at_least(_args(units=None, eval_photos=1), 1, "units", "eval_photos")
    arguments.within(_args(min_accuracy=1.0, dropout=0.0), 0, 1, "min_accuracy")
    arguments.within(_args(dropout=0.0), 0, 1, "dropout", open_high=True)
    arguments.positive(_args(max_size_mb=None), "max_size_mb")


def test_shared_mobile_flags_and_config():
    variants = ("float32", "dynamic")
    mobile = _args(variants=["dynamic", "float32", "dynamic"], max_metric_drop=1.5,
                   max_size_mb=None, max_latency_ms=20.0, min_agreement=0.95)
    assert arguments.check_mobile(mobile, variants)
    config = arguments.mobile_config(mobile, "models.x.mobile", batch_size=8)
    assert config == {"module": "models.x.mobile", "variants": ["dynamic", "float32"],
                      "latency_runs": 50, "batch_size": 8,
                      "budgets": {"max_metric_drop": 1.5, "max_size_mb": None,
                                  "max_latency_ms": 20.0, "min_agreement": 0.95}}
    none = _args(variants=["none"], max_metric_drop=-1, max_size_mb=None, max_latency_ms=None)
    assert not arguments.check_mobile(none, variants)
    assert arguments.mobile_config(none, "models.x.mobile") is None
    with pytest.raises(ShipyardError, match=r"^unknown --variants int8; choose from float32, "
                                            r"dynamic \(or 'none'\)$"):
        arguments.check_mobile(_args(variants=["int8"]), variants)
    with pytest.raises(ShipyardError, match=r"^--max-latency-ms must be positive, got 0$"):
        arguments.check_mobile(_args(variants=["dynamic"], max_metric_drop=0, max_size_mb=None,
                                     max_latency_ms=0), variants)
    with pytest.raises(ShipyardError, match=r"^--min-agreement must be in \[0, 1\], got 2$"):
        arguments.check_mobile(_args(variants=["dynamic"], max_metric_drop=0, max_size_mb=None,
                                     max_latency_ms=None, min_agreement=2), variants)
