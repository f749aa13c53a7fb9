"""The image-classification model families, by name, and their complexity tables."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from models import complexity
from models.image_classification.inception_v3 import inception_v3
from models.image_classification.mobilenet_v1 import mobilenet_v1
from models.keras2 import keras

BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "mobilenet_v1": mobilenet_v1,
    "inception_v3": inception_v3,
}

# The grid of the MobileNet paper's Tables 6 and 7: width multiplier α × input resolution.
MOBILENET_ALPHAS = (1.0, 0.75, 0.5, 0.25)
MOBILENET_RESOLUTIONS = (224, 192, 160, 128)


@dataclasses.dataclass(frozen=True)
class ModelCost:
    model: str
    alpha: float | None
    resolution: int
    macs_millions: float
    params: int


def build(name: str, **kwargs) -> keras.Model:
    """Builds the named family; unknown names raise a ValueError listing the known ones."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(BUILDERS))}")
    if name != "mobilenet_v1":
        kwargs.pop("alpha", None)
        kwargs.pop("depth_multiplier", None)
    return BUILDERS[name](**kwargs)


def cost(name: str, resolution: int, alpha: float | None = None, classes: int = 1000) -> ModelCost:
    kwargs = {"alpha": alpha} if alpha is not None else {}
    model = build(name, resolution=resolution, classes=classes, **kwargs)
    result = ModelCost(name, alpha, resolution, round(complexity.count_macs(model) / 1e6, 1),
                       complexity.count_params(model))
    keras.backend.clear_session()
    return result


def table(name: str) -> list[ModelCost]:
    """The paper's model-choice table: MobileNet's α × resolution grid, Inception v3 at 299."""
    if name == "mobilenet_v1":
        grid: Iterable[tuple[float | None, int]] = (
            (a, r) for a in MOBILENET_ALPHAS for r in MOBILENET_RESOLUTIONS)
    elif name == "inception_v3":
        grid = [(None, 299)]
    else:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(BUILDERS))}")
    return [cost(name, resolution, alpha) for alpha, resolution in grid]
