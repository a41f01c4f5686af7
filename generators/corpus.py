"""The one corpus type that every generator produces.

A corpus stores its sequences at the level of *meanings* (ground-truth
semantics) together with the realization rules that turn meanings into surface
symbols.  Drawing an example realizes it afresh, so every epoch sees new
surface symbols; exact enumeration sums over the realizations; export writes
one seeded realization.

Realization rules (all arrays, so numba kernels can apply them):

* ``variants[m, k]``: the k-th surface symbol of meaning m (-1 pads).
* ``weights[m, c, k]``: the probability of variant k when the preceding
  symbol's meaning is of class c (``class_of``); the first position of a
  sequence uses ``start_class``.  Context-free splits have one class.
* ``copy_src[m]``: -1, or the meaning whose most recent realization this
  meaning copies; the copied surface is ``copy_map[surface of the source]``.
"""
from __future__ import annotations

import hashlib
import io
import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tying.core import atomic
from tying.core.errors import InputError

TASKS = ("mlm", "causal")
SPLITS = ("train", "validation", "test")
FORMAT_VERSION = 1


@dataclass
class Realization:
    variants: np.ndarray  # (M, K) int32
    weights: np.ndarray  # (M, C, K) float64
    class_of: np.ndarray  # (M,) int32
    start_class: int
    copy_src: np.ndarray  # (M,) int32
    copy_map: np.ndarray  # (V,) int32

    @classmethod
    def identity(cls, n_meanings: int, vocab_size: int) -> "Realization":
        """Meaning m is always written as surface symbol m."""
        return cls(
            variants=np.arange(n_meanings, dtype=np.int32)[:, None],
            weights=np.ones((n_meanings, 1, 1)),
            class_of=np.zeros(n_meanings, np.int32),
            start_class=0,
            copy_src=np.full(n_meanings, -1, np.int32),
            copy_map=np.full(vocab_size, -1, np.int32),
        )

    def context_free(self) -> bool:
        return self.weights.shape[1] == 1 and bool(np.all(self.copy_src < 0))

    def surface_weights(self, m: int, c: int = 0) -> dict[int, float]:
        """{surface id: probability} for meaning m after a class-c symbol."""
        out: dict[int, float] = {}
        for k, s in enumerate(self.variants[m]):
            if s >= 0 and self.weights[m, c, k] > 0:
                out[int(s)] = out.get(int(s), 0.0) + float(self.weights[m, c, k])
        return out


@dataclass
class Corpus:
    vocab: list[str]
    meanings: list[str]
    seqs: np.ndarray  # flat int32 meaning ids
    offsets: np.ndarray  # (n+1,) int64
    split: np.ndarray  # (n,) int8: 0 train, 1 validation, 2 test
    maskable: np.ndarray  # flat bool, aligned with seqs
    real: Realization
    task: str = "mlm"
    mask_rate: float = 0.0  # 0: exactly one masked position per sequence
    specials: dict = field(default_factory=lambda: {"mask": -1, "pad": -1, "labels": []})
    relations: list = field(default_factory=list)  # [{a, b, se, ce, why}] by construction
    provenance: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ shape
    @property
    def n_sequences(self) -> int:
        return len(self.offsets) - 1

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets).astype(np.int32)

    @property
    def max_len(self) -> int:
        return int(self.lengths.max()) if self.n_sequences else 0

    def sequence(self, i: int) -> np.ndarray:
        return self.seqs[self.offsets[i] : self.offsets[i + 1]]

    def split_ids(self, split: str | int) -> np.ndarray:
        code = SPLITS.index(split) if isinstance(split, str) else int(split)
        return np.flatnonzero(self.split == code).astype(np.int64)

    def symbol_id(self, name: str) -> int:
        try:
            return self.vocab.index(name)
        except ValueError:
            raise InputError(f"symbol {name!r} is not in the corpus vocabulary") from None

    # ------------------------------------------------------------ consistency
    def validate(self) -> "Corpus":
        """Check internal consistency; raise InputError naming the first problem."""
        r, V, M = self.real, self.vocab_size, len(self.meanings)
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r} (expected one of {', '.join(TASKS)})")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.seqs) or np.any(np.diff(self.offsets) < 0):
            raise InputError("corpus offsets do not describe the sequences")
        if len(self.split) != self.n_sequences or len(self.maskable) != len(self.seqs):
            raise InputError("corpus split or maskable arrays have the wrong length")
        if len(self.seqs) and (self.seqs.min() < 0 or self.seqs.max() >= M):
            raise InputError("corpus sequences refer to unknown meanings")
        if r.variants.shape[0] != M or r.weights.shape[0] != M or r.weights.shape[2] != r.variants.shape[1]:
            raise InputError("realization tables do not match the meanings")
        if r.variants.size == 0 or r.variants.max() >= V:
            raise InputError("realization refers to unknown surface symbols")
        C = r.weights.shape[1]
        if len(r.class_of) != M or (M and (r.class_of.min() < 0 or r.class_of.max() >= C)) \
                or not 0 <= r.start_class < C:
            raise InputError("realization classes are outside the weights table")
        if len(r.copy_src) != M or np.any((r.copy_src < -1) | (r.copy_src >= M)):
            raise InputError("realization copies refer to unknown meanings")
        if len(r.copy_map) != V or np.any((r.copy_map < -1) | (r.copy_map >= V)):
            raise InputError("realization copy map refers to unknown surface symbols")
        if len(self.split) and (self.split.min() < 0 or self.split.max() >= len(SPLITS)):
            raise InputError("corpus split codes must be 0 (train), 1 (validation) or 2 (test)")
        w = np.where(r.variants[:, None, :] >= 0, r.weights, 0.0)
        if not np.all(np.isfinite(r.weights)) or np.any(r.weights < 0):
            raise InputError("realization weights must be finite and non-negative")
        if not np.allclose(w.sum(-1)[r.copy_src < 0], 1.0, atol=1e-9):
            raise InputError("realization weights of a meaning do not sum to 1")
        if not 0.0 <= self.mask_rate <= 1.0:
            raise InputError(f"mask rate must be in [0, 1], got {self.mask_rate}")
        self._check_metadata()
        return self

    def _check_metadata(self) -> None:
        """Every symbol id in the metadata (specials, relations) names a symbol of the vocabulary."""
        V = self.vocab_size

        def symbol(x, low=0):
            return isinstance(x, numbers.Integral) and not isinstance(x, bool) and low <= x < V

        if not all(isinstance(v, str) for v in self.vocab) or len(set(self.vocab)) != V:
            raise InputError("corpus vocabulary must be distinct strings")
        sp = self.specials
        if not isinstance(sp, dict) or not all(symbol(sp.get(k, -1), -1) for k in ("mask", "pad")) \
                or not isinstance(sp.get("labels", []), list) or not all(symbol(x) for x in sp.get("labels", [])):
            raise InputError(f"corpus specials refer to symbols outside the vocabulary of {V}: {sp!r}")
        if not isinstance(self.relations, list):
            raise InputError("corpus relations must be a list")
        for r in self.relations:
            if not isinstance(r, dict):
                raise InputError(f"corpus relations must be tables with symbol ids a and b, got {str(r)[:40]!r}")
            if not (symbol(r.get("a")) and symbol(r.get("b"))):
                raise InputError(f"corpus relation ({r.get('a')!r}, {r.get('b')!r}) refers to symbols outside "
                                 f"the vocabulary of {V}")

    # ------------------------------------------------------------ save / load
    def _arrays(self) -> dict[str, np.ndarray]:
        r = self.real
        return {
            "seqs": np.ascontiguousarray(self.seqs, np.int32),
            "offsets": np.ascontiguousarray(self.offsets, np.int64),
            "split": np.ascontiguousarray(self.split, np.int8),
            "maskable": np.ascontiguousarray(self.maskable, np.bool_),
            "variants": np.ascontiguousarray(r.variants, np.int32),
            "weights": np.ascontiguousarray(r.weights, np.float64),
            "class_of": np.ascontiguousarray(r.class_of, np.int32),
            "copy_src": np.ascontiguousarray(r.copy_src, np.int32),
            "copy_map": np.ascontiguousarray(r.copy_map, np.int32),
        }

    def _meta(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "vocab": list(self.vocab),
            "meanings": list(self.meanings),
            "task": self.task,
            "mask_rate": float(self.mask_rate),
            "start_class": int(self.real.start_class),
            "specials": self.specials,
            "relations": self.relations,
            "provenance": self.provenance,
        }

    def digest(self) -> str:
        """The sha256 of the corpus's content (what ``save`` stores and ``load`` verifies)."""
        return _checksum(self._arrays(), json.dumps(self._meta(), sort_keys=True).encode())

    def to_bytes(self) -> bytes:
        arrays = self._arrays()
        meta = json.dumps(self._meta(), sort_keys=True).encode()
        digest = _checksum(arrays, meta)
        buf = io.BytesIO()
        np.savez_compressed(
            buf, meta=np.frombuffer(meta, np.uint8), sha256=np.frombuffer(digest.encode(), np.uint8), **arrays
        )
        return buf.getvalue()

    def save(self, path: str | Path, force: bool = False) -> Path:
        path = atomic.check_target(path, force)
        atomic.write_bytes(path, self.validate().to_bytes())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Corpus":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"corpus file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as e:  # zipfile, zlib, numpy's header parser: each fails its own way on bad bytes
            raise InputError(f"corpus file {path} is truncated or corrupted ({type(e).__name__})") from None
        required = {"meta", "sha256", "seqs", "offsets", "split", "maskable", "variants", "weights",
                    "class_of", "copy_src", "copy_map"}
        if not required <= set(data):
            raise InputError(f"corpus file {path} is missing {sorted(required - set(data))[0]!r}")
        meta = data.pop("meta").tobytes()
        stored = data.pop("sha256").tobytes().decode("ascii", "replace")
        if _checksum(data, meta) != stored:
            raise InputError(f"corpus file {path} fails its sha256 checksum")
        try:
            m = json.loads(meta)
            if m.get("format") != FORMAT_VERSION:
                raise InputError(f"corpus file {path} has unsupported format {m.get('format')!r}")
            return cls._from(m, data)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"corpus file {path} has malformed metadata ({type(e).__name__}: {e})") from None

    @classmethod
    def _from(cls, m: dict, data: dict) -> "Corpus":
        real = Realization(
            variants=data["variants"], weights=data["weights"], class_of=data["class_of"],
            start_class=m["start_class"], copy_src=data["copy_src"], copy_map=data["copy_map"],
        )
        return cls(
            vocab=m["vocab"], meanings=m["meanings"], seqs=data["seqs"], offsets=data["offsets"],
            split=data["split"], maskable=data["maskable"], real=real, task=m["task"],
            mask_rate=m["mask_rate"], specials=m["specials"], relations=m["relations"],
            provenance=m["provenance"],
        ).validate()

    # ----------------------------------------------------------------- export
    def realize(self, seed: int) -> np.ndarray:
        """One seeded surface realization of every sequence (flat int32, aligned with ``seqs``)."""
        from .stream_kernels import realize_flat

        u = np.random.default_rng(seed).random(len(self.seqs))
        r = self.real
        return realize_flat(self.seqs, self.offsets, r.variants, r.weights, r.class_of,
                            np.int64(r.start_class), r.copy_src, r.copy_map, u)

    def export(self, fmt: str, seed: int = 0) -> str:
        surface = self.realize(seed)
        lines = []
        for i in range(self.n_sequences):
            ids = surface[self.offsets[i] : self.offsets[i + 1]]
            words = [self.vocab[j] for j in ids]
            if fmt == "text":
                lines.append(" ".join(words))
            elif fmt == "jsonl":
                mids = self.sequence(i)
                lines.append(json.dumps({
                    "split": SPLITS[self.split[i]], "tokens": words, "ids": ids.tolist(),
                    "meanings": [self.meanings[j] for j in mids],
                }))
            else:
                raise InputError(f"unknown export format {fmt!r} (expected text or jsonl)")
        return "\n".join(lines) + "\n"


def _checksum(arrays: dict[str, np.ndarray], meta: bytes) -> str:
    h = hashlib.sha256(meta)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
