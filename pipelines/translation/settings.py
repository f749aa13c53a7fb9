"""Translation names and presets both the pipeline and the model code use (no TensorFlow
import, so the CLI checks settings without loading it)."""
from __future__ import annotations

import dataclasses

NAME = "translation"
BLEU = "bleu"
INPUT_NAME = "sources"  # the serving signature's input: raw source sentences


@dataclasses.dataclass(frozen=True)
class Preset:
    encoder_layers: int
    decoder_layers: int
    units: int
    vocab_size: int
    dropout: float


PRESETS = {
    # Calibrated on 2 CPU cores: 128 units learned fastest in a 20-minute budget.
    "cpu": Preset(encoder_layers=3, decoder_layers=3, units=128, vocab_size=8000, dropout=0.1),
    # The paper's model (Wu et al. 2016, §8): 8 + 8 layers, 1024 units, 32K shared wordpieces;
    # for accelerators.
    "paper": Preset(encoder_layers=8, decoder_layers=8, units=1024, vocab_size=32000,
                    dropout=0.2),
}
