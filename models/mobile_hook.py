"""The contract between a model family and the mobile components (components/mobile.py:
Optimizer → TFLiteConverter → FidelityGate → MobilePusher).

A family's `models/<family>/mobile.py` defines a `MobileHook` subclass and exposes one instance
as `HOOK`; the pipeline's mobile config names the module by dotted path
(`{"module": "models.<family>.mobile", ...}`) and the components call `load_hook(module)`.

The abstract methods are what every family must say: its headline metric, the Keras model that
TFMO optimises and TFLite converts, its eval rows and how to score outputs on them. The other
methods have defaults for the simple case, a Keras model whose .tflite runs row by row on
LiteRT exactly as the Keras model does on a batch; a family overrides them where its TFLite
model is something else (a decoder loop, one step of a recurrent codec, an on-device model fed
token ids). Image classification is that simple case, apart from its label file and TFLite
metadata, which are its own overrides: the defaults are neutral (no bundle files, no metadata),
not image classification's.

No TensorFlow import here (the defaults import models.tflite when they run), so that loading a
hook's contract costs nothing.
"""
from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.tflite import Latency


def representative_dataset(x: Any) -> Callable[[], Iterator[list[Any]]]:
    """TFLite's representative dataset from rows `x`: each row as a batch of one."""
    def rows():
        for row in x:
            yield [row[None]]
    return rows


class MobileHook(abc.ABC):
    """What the mobile components need to know about one model family.

    Required (abstract): `metric_name`, `load_model`, `load_split`, `metric`.
    With defaults (override where the family's TFLite model is not its Keras model run row by
    row): `conversions`, `prepare_split`, `convert`, `add_metadata`, `bundle_files`,
    `reference_predict`, `tflite_predict`, `latency`, `agreement`.
    """

    # The TFLite conversions the family's `convert` offers (None: all of models/variants.py);
    # models/optimization.plan falls back to dynamic-range quantization for the others.
    conversions: Sequence[str] | None = None

    # --- required ------------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def metric_name(self) -> str:
        """The name of `metric` (higher is better), as the gate's results and report show it."""

    @abc.abstractmethod
    def load_model(self, model_uri: str) -> Any:
        """The Keras model TFMO optimises and TFLite converts, from the Trainer's artifact."""

    @abc.abstractmethod
    def load_split(self, transform_graph_uri: str | None, examples_uri: str, split: str,
                   limit: int | None = None, model_uri: str | None = None
                   ) -> tuple[Any, Any]:
        """(x, y) of a split: Transform's output, or ExampleGen's and `transform_graph_uri`
        None for a family without Transform. `model_uri` (the trained model) is for labels
        the Trainer defines, e.g. Smart Reply's clusters of its response set."""

    @abc.abstractmethod
    def metric(self, outputs: Any, y: Any) -> float:
        """The family's headline metric of `outputs` (a predict's) against `y` (higher is
        better)."""

    # --- defaults ------------------------------------------------------------------------------

    def prepare_split(self, model_uri: str, x: Any) -> Any:
        """`load_split`'s rows as the TFLite model's inputs, computed with the trained model
        before anything runs on them, where the .tflite is one stage of it (a decoder step fed
        by the encoder). Default: the rows as they are."""
        return x

    def convert(self, model: Any, conversion: str, x_sample: Any, io_type: str) -> bytes:
        """The .tflite of `model` for `conversion` (models/variants.py); `x_sample` (prepared
        train rows, for int8 only, else None) is the representative data. Default:
        models.tflite.convert with each row as a batch of one."""
        from models import tflite

        representative = representative_dataset(x_sample) if x_sample is not None else None
        return tflite.convert(model, conversion, representative, io_type=io_type)

    def add_metadata(self, model_bytes: bytes, assets_dir: str) -> bytes:
        """The .tflite with TFLite metadata (`assets_dir` holds `bundle_files`). Default: as
        it is."""
        return model_bytes

    def bundle_files(self, transform_graph_uri: str | None, model_uri: str | None
                     ) -> dict[str, bytes]:
        """The files every variant ships with ({name: contents}: labels, vocabulary, response
        set, ...). Default: none."""
        return {}

    def reference_predict(self, keras_model: Any, x: Any) -> Any:
        """The float model's outputs on `x` (what the gate holds the variants against).
        Default: the Keras model's batch predict."""
        return keras_model.predict(x, verbose=0)

    def tflite_predict(self, model_bytes: bytes, x: Any) -> Any:
        """A variant's outputs on `x` on LiteRT. Default: row by row
        (models.tflite.predict)."""
        from models import tflite

        return tflite.predict(model_bytes, x)

    def latency(self, model_bytes: bytes, x: Any, runs: int) -> Latency:
        """Single-thread latency of one invoke. Default: models.tflite.latency on random
        inputs of the model's input shape (`x` unused)."""
        from models import tflite

        return tflite.latency(model_bytes, runs=runs)

    def agreement(self, outputs: Any, reference_outputs: Any) -> float | None:
        """The share of eval rows on which a variant agrees with the float model (the
        `min_agreement` budget gates on it). Default: None, not measured (a `min_agreement`
        budget then refuses every variant, saying so)."""
        return None


def load_hook(module: str) -> MobileHook:
    """`HOOK` of the module named by dotted path (the mobile config's `module`)."""
    hook = getattr(importlib.import_module(module), "HOOK", None)
    if not isinstance(hook, MobileHook):
        raise TypeError(f"{module}.HOOK must be an instance of a models.mobile_hook.MobileHook "
                        f"subclass (got {type(hook).__name__}); the mobile config's 'module' "
                        "names a family's mobile hook module")
    return hook
