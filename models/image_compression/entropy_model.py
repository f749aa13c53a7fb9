"""A context model over the codec's bits, driving constriction's range coder (the .rgc
format's coder 3).

Toderici et al. 2017 (section 3) code the binary codes with a learned entropy model that sees
the bits already decoded: in this iteration's neighbourhood, and the previous iteration's at
the same place. This one is a table of P(bit = +1) per iteration × channel × context, fitted
by counting the codes of the training photos after training. The context of the bit at code
cell (y, x), channel c, iteration t is three ternary features (−1, +1, or 0 where no bit
exists: the first iteration, the first channel, the picture's edge, a tile that stopped):

    a  the previous iteration's bit at (y, x, c)
    b  this iteration's bit at (y, x, c − 1)
    n  the sign of the sum of the previous iteration's bits at the four neighbours of (y, x)
       in channel c

All three come from bits the decoder already holds when it decodes channel c, so a whole
channel plane is coded in one vectorised call, channel after channel (the order `bitstream.pack`
lays the bits in). Probabilities are clipped to [1/4096, 1 − 1/4096] so that a bit the table
deems impossible still costs at most 12 bits.
"""
from __future__ import annotations

import zlib

import numpy as np

CONTEXTS = 27  # 3 × 3 × 3
EPSILON = 1.0 / 4096
FILE = "entropy_model.npz"


def _ternary(values: np.ndarray) -> np.ndarray:
    """−1 → 1, 0 → 0, +1 → 2 (of the sign)."""
    return (np.sign(values) + 3).astype(np.int64) % 3


def plane_contexts(previous: np.ndarray | None, current: np.ndarray, channel: int
                   ) -> np.ndarray:
    """Context index (rows, cols) of every cell of `channel`, from the previous iteration's
    map (rows, cols, C; 0 where absent, None before the first) and this iteration's map
    (channels below `channel` filled)."""
    rows, cols = current.shape[:2]
    if previous is None:
        a = np.zeros((rows, cols))
        n = np.zeros((rows, cols))
    else:
        a = previous[..., channel]
        padded = np.pad(a, 1)
        n = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    b = current[..., channel - 1] if channel > 0 else np.zeros((rows, cols))
    return _ternary(a) * 9 + _ternary(b) * 3 + _ternary(n)


class ContextModel:
    """P(+1) per (iteration, channel, context): `table` of shape (T, C, CONTEXTS)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = np.clip(np.asarray(table, np.float64), EPSILON, 1 - EPSILON)
        # Which table coded a file (in the .rgc header): another table cannot decode it.
        self.id = zlib.adler32(self.table.astype("<f8").tobytes()) or 1

    @property
    def iterations(self) -> int:
        return self.table.shape[0]

    def save(self, directory: str) -> None:
        import os

        np.savez(os.path.join(directory, FILE), table=self.table)

    @classmethod
    def load(cls, directory: str) -> ContextModel | None:
        """The model saved in a codec directory, or None when it has none (an older codec)."""
        import os

        path = os.path.join(directory, FILE)
        if not os.path.isfile(path):
            return None
        with np.load(path) as data:
            return cls(data["table"])

    def _probabilities(self, t: int, c: int, contexts: np.ndarray) -> np.ndarray:
        return self.table[min(t, self.iterations - 1), c][contexts]

    def encode(self, t: int, current: np.ndarray, mask: np.ndarray,
               previous: np.ndarray | None) -> bytes:
        """Iteration t's map (rows, cols, C) of ±1 at the cells of `mask` → range-coded bytes."""
        import constriction

        encoder = constriction.stream.queue.RangeEncoder()
        family = constriction.stream.model.Bernoulli(perfect=False)
        for c in range(current.shape[-1]):
            contexts = plane_contexts(previous, current, c)[mask]
            symbols = (current[..., c][mask] > 0).astype(np.int32)
            encoder.encode(symbols, family, self._probabilities(t, c, contexts))
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, t: int, payload: bytes, mask: np.ndarray, channels: int,
               previous: np.ndarray | None) -> np.ndarray:
        """The inverse of `encode`: the map, 0 outside `mask`. ValueError on a corrupt payload."""
        import constriction

        if len(payload) % 4:
            raise ValueError("the payload is not whole 32-bit words")
        decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, "<u4").copy())
        family = constriction.stream.model.Bernoulli(perfect=False)
        current = np.zeros((*mask.shape, channels), np.float32)
        for c in range(channels):
            contexts = plane_contexts(previous, current, c)[mask]
            try:
                symbols = decoder.decode(family, self._probabilities(t, c, contexts))
            except Exception as e:  # constriction raises its own types on bad input
                raise ValueError(str(e)) from None
            plane = current[..., c]
            plane[mask] = np.where(symbols > 0, 1.0, -1.0)
        return current

    def ideal_bits(self, t: int, current: np.ndarray, mask: np.ndarray,
                   previous: np.ndarray | None) -> float:
        """−log2 of the bits' probability under the model: what a perfect coder would spend."""
        total = 0.0
        for c in range(current.shape[-1]):
            p = self._probabilities(t, c, plane_contexts(previous, current, c)[mask])
            plus = current[..., c][mask] > 0
            total -= float(np.sum(np.log2(np.where(plus, p, 1 - p))))
        return total


def fit(sequences: list[list[np.ndarray]], iterations: int, prior: float = 0.5
        ) -> ContextModel:
    """Counts each context's bits over code-map sequences (one list per image of its maps,
    iteration after iteration, ±1 of shape (rows, cols, C)), with `prior` pseudo-counts of
    each value (Krichevsky–Trofimov at 0.5)."""
    channels = sequences[0][0].shape[-1]
    plus = np.full((iterations, channels, CONTEXTS), prior)
    total = np.full((iterations, channels, CONTEXTS), 2 * prior)
    for maps in sequences:
        previous = None
        for t, current in enumerate(maps[:iterations]):
            for c in range(channels):
                contexts = plane_contexts(previous, current, c).ravel()
                bits = (current[..., c].ravel() > 0)
                plus[t, c] += np.bincount(contexts, weights=bits, minlength=CONTEXTS)
                total[t, c] += np.bincount(contexts, minlength=CONTEXTS)
            previous = current
    return ContextModel(plus / total)
