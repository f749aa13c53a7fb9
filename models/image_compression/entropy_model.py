"""A context model over the codec's bits, driving constriction's range coder (the .rgc
format's coder 3).

Toderici et al. 2017 (section 3) code the binary codes with a learned entropy model that sees
the bits already decoded: in this iteration's neighbourhood, and the previous iteration's at
the same place. This one is a table of P(bit = +1) per iteration × channel × phase × context,
fitted by counting the codes of the training photos after training.

An iteration's bits are coded channel after channel (the order `bitstream.pack` lays them in);
within a channel plane the code cells are interleaved (`groups`): first anchor cells every 8th
row and column, then, at spacings 4, 2 and 1, the cells between known ones: those with four
known diagonal neighbours, then those with four known side neighbours. Each group is one
vectorised call, and all but 1/64 of the cells see bits of their own plane. Features are
ternary (−1, +1, or 0 where no bit exists: the first iteration, the first channel, the
picture's edge, a tile that stopped):

    a  the previous iteration's bit at the cell, same channel
    anchors:  b  this iteration's bit of the previous channel at the cell;
              n  the sign of the previous iteration's four side neighbours in this channel
    others:   m  the sum, clipped to ±2, of the known neighbours' bits in this plane whose
                 code agrees with the cell's on every channel before this one (in a flat
                 region the codes repeat from cell to cell: what LZMA finds as repeated bytes);
              s  the sign of the sum of the known neighbours' bits in this plane

The table has a row of contexts per group kind (anchors; diagonal, side, side at spacing 1;
the same at the wider spacings). Tables of the first version (a, b, n for every cell, one
group a channel: shape (T, C, 27)) still load and decode the files they coded. Probabilities
are clipped to [1/4096, 1 − 1/4096], so that a bit the table deems impossible still costs at
most 12 bits.

On top of the table, a logistic layer per iteration × channel (fitted after it) sees what the
table cannot (`cross_bits`): the bits of this iteration's earlier channels at the cell and its
four side neighbours, and the previous iteration's bits at the cell, next to the table's own
log-odds. Its weights, the table's log-odds and the sigmoid are stored as integers and a
lookup table, so that encoder and decoder compute the same probability on any machine (a
float dot product may round differently elsewhere, and one different probability breaks the
range coder). Models without the layer still load and decode their files.
"""
from __future__ import annotations

import os
import zlib
from collections.abc import Callable

import numpy as np

LEVELS = 3  # of the interleaving: anchor cells every 8 rows and columns
PHASES = 7  # table rows: anchors; diagonal, side, side at distance 1; the same farther out
FIRST_CONTEXTS = 27  # a × b × n (anchors, and every cell of a first-version table)
NEIGHBOUR_CONTEXTS = 45  # a × m (5 values) × s (the other phases)
CONTEXTS = NEIGHBOUR_CONTEXTS  # the table's last axis (anchors use the first 27)
EPSILON = 1.0 / 4096
FILE = "entropy_model.npz"
SCALE = 256  # the logistic layer's log-odds are integers in units of 1/SCALE
TABLE_SCALE = 16  # the table's log-odds as a feature, in units of 1/TABLE_SCALE
LIMIT = 9 * SCALE  # log-odds clipped to ±9: beyond EPSILON's ±8.3 either way

_DIAGONAL = ((-1, -1), (-1, 1), (1, -1), (1, 1))
_SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1))

# (channel, phase, cells (rows, cols) boolean, their contexts, their cross-channel bits or
# None) → their ±1 bits.
Visit = Callable[[int, int, np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]


def _ternary(values: np.ndarray) -> np.ndarray:
    """−1 → 1, 0 → 0, +1 → 2 (of the sign)."""
    return (np.sign(values) + 3).astype(np.int64) % 3


def _shift(plane: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[y, x] = plane[y + dy, x + dx], 0 beyond the edge (on the first two axes)."""
    # Slicing into zeros, not np.pad: an entropy fit calls this millions of times.
    rows, cols = plane.shape[:2]
    out = np.zeros_like(plane)
    top, bottom = max(0, -dy), min(rows, rows - dy)
    left, right = max(0, -dx), min(cols, cols - dx)
    if top < bottom and left < right:
        out[top:bottom, left:right] = plane[top + dy: bottom + dy, left + dx: right + dx]
    return out


def groups(mask: np.ndarray, levels: int = LEVELS
           ) -> list[tuple[int, np.ndarray, tuple[tuple[int, int], ...]]]:
    """The cells of a channel plane in coding order, as (table phase, cells, neighbour
    offsets): first the anchors (every 2^levels-th row and column), then at each spacing
    h = 2^(levels−1) … 1 the cells halfway between known ones, diagonally (their four
    diagonal neighbours at distance h known), then the two kinds beside known cells (their
    four side neighbours at distance h known)."""
    y, x = np.indices(mask.shape)
    step = 1 << levels
    out = [(0, mask & (y % step == 0) & (x % step == 0), ())]
    for level in range(levels - 1, -1, -1):
        h, s = 1 << level, 2 << level
        phase = 1 if level == 0 else 4
        diagonal = tuple((dy * h, dx * h) for dy, dx in _DIAGONAL)
        sides = tuple((dy * h, dx * h) for dy, dx in _SIDES)
        out += [(phase, mask & (y % s == h) & (x % s == h), diagonal),
                (phase + 1, mask & (y % s == 0) & (x % s == h), sides),
                (phase + 2, mask & (y % s == h) & (x % s == 0), sides)]
    return out


def cross_bits(current: np.ndarray, previous: np.ndarray, c: int) -> np.ndarray:
    """What the logistic layer sees of each cell when channel c is coded, as int64 (rows,
    cols, 6C + 4): this iteration's bits at the cell in the channels before c (0 for the
    rest), the previous iteration's at the cell (all C), the same earlier channels at the four
    side neighbours (4 × C), and the four side neighbours' previous-iteration bit in channel
    c. Every one of them is decoded before channel c starts."""
    earlier = current.copy()
    earlier[..., c:] = 0
    parts = [earlier, previous]
    parts += [_shift(earlier, *o) for o in _SIDES]
    parts += [_shift(previous[..., c], *o)[..., np.newaxis] for o in _SIDES]
    return np.concatenate(parts, axis=-1).astype(np.int64)


def walk(mask: np.ndarray, channels: int, previous: np.ndarray | None, visit: Visit,
         phased: bool = True, cross: bool = False) -> np.ndarray:
    """Goes through one iteration's bits in coding order, asking `visit` for the bits of each
    group of cells given their contexts, and returns the map (rows, cols, C) it filled (0
    outside `mask`). Encoder, decoder and fitting all walk the same way, so their contexts
    agree by construction. `phased` False: the first version's order (one group a channel).
    `cross`: also give `visit` the cells' `cross_bits`."""
    rows, cols = mask.shape
    current = np.zeros((rows, cols, channels), np.float32)
    order = groups(mask) if phased else [(0, mask, ())]
    offsets = {o for _, _, group in order for o in group}
    # same[o]: the cell's code equals its neighbour's at offset o on the channels so far.
    same = {o: np.ones((rows, cols), bool) for o in offsets}
    zero = np.zeros((rows, cols), np.float32)
    before = np.zeros_like(current) if previous is None else previous
    for c in range(channels):
        plane = current[..., c]
        a = zero if previous is None else previous[..., c]
        n = sum(_shift(a, *o) for o in _SIDES)
        b = current[..., c - 1] if c else zero
        first = _ternary(a) * 9 + _ternary(b) * 3 + _ternary(n)
        bits_across = cross_bits(current, before, c) if cross else None
        for phase, cells, neighbours in order:
            if not cells.any():
                continue
            if not neighbours:
                contexts = first
            else:
                total = sum(_shift(plane, *o) for o in neighbours)
                matched = sum(_shift(plane, *o) * same[o] for o in neighbours)
                contexts = (_ternary(a) * 15 + (np.clip(matched, -2, 2).astype(np.int64) + 2)
                            * 3 + _ternary(total))
            plane[cells] = visit(c, phase, cells, contexts[cells],
                                 None if bits_across is None else bits_across[cells])
        for o in same:
            same[o] &= plane == _shift(plane, *o)
    return current


class ContextModel:
    """P(+1) per (iteration, channel, phase, context): `table` of shape (T, C, 7, 45), or a
    first-version table (T, C, 27); with `weights` (T, C, 6C + 6) int64, the logistic layer:
    per `cross_bits` feature, then on the table's log-odds `table_logits` (the table's shape,
    int64), then the bias; `sigmoid` (2·LIMIT + 1,) maps its clipped log-odds to P(+1)."""

    def __init__(self, table: np.ndarray, weights: np.ndarray | None = None,
                 table_logits: np.ndarray | None = None,
                 sigmoid: np.ndarray | None = None) -> None:
        self.table = np.clip(np.asarray(table, np.float64), EPSILON, 1 - EPSILON)
        if self.table.ndim not in (3, 4):
            raise ValueError(f"an entropy table has 3 or 4 axes, not {self.table.ndim}")
        self.weights = None if weights is None else np.asarray(weights, np.int64)
        self.table_logits = None if table_logits is None else np.asarray(table_logits, np.int64)
        self.sigmoid = (None if sigmoid is None
                        else np.clip(np.asarray(sigmoid, np.float64), EPSILON, 1 - EPSILON))
        parts = [self.table.astype("<f8").tobytes()]
        if self.weights is not None:
            if self.table_logits is None or self.sigmoid is None or not self.phased:
                raise ValueError("a logistic layer needs a phased table, its log-odds and the "
                                 "sigmoid")
            parts += [self.weights.astype("<i8").tobytes(),
                      self.table_logits.astype("<i8").tobytes(),
                      self.sigmoid.astype("<f8").tobytes()]
        # Which model coded a file (in the .rgc header): another model cannot decode it.
        self.id = zlib.adler32(b"".join(parts)) or 1

    @property
    def iterations(self) -> int:
        return self.table.shape[0]

    @property
    def phased(self) -> bool:
        return self.table.ndim == 4

    @property
    def stacked(self) -> bool:
        """Has the logistic layer over cross-channel bits."""
        return self.weights is not None

    def save(self, directory: str) -> None:
        arrays = {"table": self.table}
        if self.stacked:
            arrays.update(weights=self.weights, table_logits=self.table_logits,
                          sigmoid=self.sigmoid)
        np.savez(os.path.join(directory, FILE), **arrays)

    @classmethod
    def load(cls, directory: str) -> ContextModel | None:
        """The model saved in a codec directory, or None when it has none (an older codec)."""
        path = os.path.join(directory, FILE)
        if not os.path.isfile(path):
            return None
        with np.load(path) as data:
            extra = {k: data[k] for k in ("weights", "table_logits", "sigmoid") if k in data}
            return cls(data["table"], **extra)

    def probabilities(self, t: int, c: int, phase: int, contexts: np.ndarray,
                      across: np.ndarray | None = None) -> np.ndarray:
        t = min(t, self.iterations - 1)
        if not self.phased:
            return self.table[t, c][contexts]
        if not self.stacked:
            return self.table[t, c, phase][contexts]
        w = self.weights[t, c]
        # Integers throughout: the same sum on every machine.
        z = across @ w[:-2] + w[-2] * self.table_logits[t, c, phase][contexts] + w[-1]
        return self.sigmoid[np.clip(z, -LIMIT, LIMIT) + LIMIT]

    def encode(self, t: int, current: np.ndarray, mask: np.ndarray,
               previous: np.ndarray | None) -> bytes:
        """Iteration t's map (rows, cols, C) of ±1 at the cells of `mask` → range-coded bytes."""
        import constriction

        encoder = constriction.stream.queue.RangeEncoder()
        family = constriction.stream.model.Bernoulli(perfect=False)

        def visit(c: int, phase: int, cells: np.ndarray, contexts: np.ndarray,
                  across: np.ndarray | None) -> np.ndarray:
            bits = current[..., c][cells]
            encoder.encode((bits > 0).astype(np.int32), family,
                           self.probabilities(t, c, phase, contexts, across))
            return bits

        walk(mask, current.shape[-1], previous, visit, self.phased, self.stacked)
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, t: int, payload: bytes, mask: np.ndarray, channels: int,
               previous: np.ndarray | None) -> np.ndarray:
        """The inverse of `encode`: the map, 0 outside `mask`. ValueError on a corrupt payload."""
        import constriction

        if len(payload) % 4:
            raise ValueError("the payload is not whole 32-bit words")
        decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, "<u4").copy())
        family = constriction.stream.model.Bernoulli(perfect=False)

        def visit(c: int, phase: int, cells: np.ndarray, contexts: np.ndarray,
                  across: np.ndarray | None) -> np.ndarray:
            try:
                symbols = decoder.decode(family, self.probabilities(t, c, phase, contexts,
                                                                    across))
            except Exception as e:  # constriction raises its own types on bad input
                raise ValueError(str(e)) from None
            return np.where(symbols > 0, 1.0, -1.0)

        return walk(mask, channels, previous, visit, self.phased, self.stacked)

    def ideal_bits(self, t: int, current: np.ndarray, mask: np.ndarray,
                   previous: np.ndarray | None) -> float:
        """−log2 of the bits' probability under the model: what a perfect coder would spend."""
        total = [0.0]

        def visit(c: int, phase: int, cells: np.ndarray, contexts: np.ndarray,
                  across: np.ndarray | None) -> np.ndarray:
            bits = current[..., c][cells]
            p = self.probabilities(t, c, phase, contexts, across)
            total[0] -= float(np.sum(np.log2(np.where(bits > 0, p, 1 - p))))
            return bits

        walk(mask, current.shape[-1], previous, visit, self.phased, self.stacked)
        return total[0]


def _log_odds(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


# (iteration, channel, phase, contexts, cross bits or None, bits) of one group of cells.
Record = Callable[[int, int, int, np.ndarray, np.ndarray | None, np.ndarray], None]


def _each_group(sequences: list[list[np.ndarray]], iterations: int, channels: int,
                record: Record, cross: bool = False) -> None:
    """Walks the first `iterations` maps of every sequence in coding order, handing `record`
    each group of cells with its contexts (and `cross_bits` with `cross`) and its bits."""
    for maps in sequences:
        previous = None
        for t, current in enumerate(maps[:iterations]):
            def visit(c: int, phase: int, cells: np.ndarray, contexts: np.ndarray,
                      across: np.ndarray | None, t: int = t,
                      current: np.ndarray = current) -> np.ndarray:
                bits = current[..., c][cells]
                record(t, c, phase, contexts, across, bits)
                return bits

            walk(np.ones(current.shape[:2], bool), channels, previous, visit, cross=cross)
            previous = current


def fit(sequences: list[list[np.ndarray]], iterations: int, prior: float = 0.5,
        stacked: bool = True, regularization: float = 1.0) -> ContextModel:
    """Counts each context's bits over code-map sequences (one list per image of its maps,
    iteration after iteration, ±1 of shape (rows, cols, C)), with `prior` pseudo-counts of
    each value (Krichevsky–Trofimov at 0.5); with `stacked`, then fits the logistic layer per
    iteration × channel on the same codes (scikit-learn's L2 logistic regression, inverse
    strength `regularization`) and rounds it to integers."""
    channels = sequences[0][0].shape[-1]
    shape = (iterations, channels, PHASES, CONTEXTS)
    plus, total = np.full(shape, prior), np.full(shape, 2 * prior)
    # The layer's rows, kept from the same walk: (phase, contexts, cross bits, bits > 0).
    rows: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = {}

    def count(t: int, c: int, phase: int, contexts: np.ndarray, across: np.ndarray | None,
              bits: np.ndarray) -> None:
        plus[t, c, phase] += np.bincount(contexts, weights=bits > 0, minlength=CONTEXTS)
        total[t, c, phase] += np.bincount(contexts, minlength=CONTEXTS)
        if stacked:
            rows.setdefault((t, c), []).append((phase, contexts, across, bits > 0))

    _each_group(sequences, iterations, channels, count, cross=stacked)
    table = ContextModel(plus / total)
    if not stacked:
        return table
    return _stack(table, rows, iterations, channels, regularization)


def _stack(table: ContextModel,
           rows: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]],
           iterations: int, channels: int, regularization: float) -> ContextModel:
    """The logistic layer over `table`, fitted on each iteration × channel's `rows`."""
    from sklearn.linear_model import LogisticRegression

    table_logits = np.round(_log_odds(table.table) * TABLE_SCALE).astype(np.int64)
    weights = np.zeros((iterations, channels, 6 * channels + 6), np.int64)
    for (t, c), parts in rows.items():
        logits = np.concatenate([table_logits[t, c, phase][contexts]
                                 for phase, contexts, _, _ in parts])
        across, labels = (np.concatenate([p[i] for p in parts]) for i in (2, 3))
        if labels.all() or not labels.any():
            # One value only: the table alone (weight 1 on its log-odds).
            weights[t, c, -2] = round(SCALE / TABLE_SCALE)
            continue
        features = np.column_stack([across, logits / TABLE_SCALE])
        model = LogisticRegression(C=regularization, max_iter=1000).fit(features, labels)
        weights[t, c, :-2] = np.round(model.coef_[0, :-1] * SCALE)
        weights[t, c, -2] = np.round(model.coef_[0, -1] * SCALE / TABLE_SCALE)
        weights[t, c, -1] = np.round(model.intercept_[0] * SCALE)
    sigmoid = 1.0 / (1.0 + np.exp(-np.arange(-LIMIT, LIMIT + 1) / SCALE))
    return ContextModel(table.table, weights, table_logits, sigmoid)
