"""The result of a training run: curves, embedding snapshots, final parameters; saved as a folder.

A run folder holds ``config.json`` (model and train configs, corpus provenance,
status), ``metrics.csv`` (one row per recorded step) and ``embeddings.npz``
(the effective per-symbol rows E_in[s] = emb[in_row[s]], E_out[s] =
emb[out_row[s]] and b_out at each recorded step, plus the final flat params).
Step s means "after s updates"; the train loss at step s is the loss of the
batch of step s at those parameters (in population mode: the exact training
loss); ``fit_loss``/``fit_acc`` are the loss and accuracy on the whole training
split (its exact population when enumerable), recorded with validation.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tying.core import atomic
from tying.core.version import package_version
from tying.core.errors import InputError

from .config import ModelConfig, TrainConfig

STATUSES = ("completed", "diverged", "interrupted")
# train_loss/acc: the step's batch; fit_loss/acc: the whole training split (exact when enumerable).
METRICS = ("step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "fit_loss", "fit_acc")
OLD_METRICS = METRICS[:6]  # run folders written before the training-split evaluation was recorded


@dataclass
class Run:
    model_cfg: ModelConfig  # fitted to the corpus
    train_cfg: TrainConfig
    corpus_info: dict  # provenance, sha256, vocabulary, task (and path when trained from a file)
    status: str = "completed"
    message: str = ""
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # train curve steps
    train_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    train_acc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lr: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the rate of the update made at each step
    val_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    val_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_acc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fit_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # training-split evaluation
    fit_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fit_acc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    emb_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    E_in: np.ndarray | None = None  # (R, V, d)
    E_out: np.ndarray | None = None  # (R, V, d)
    b_out: np.ndarray | None = None  # (R, V), zeros without an output bias
    params: np.ndarray | None = None  # final flat parameters
    param_hist: np.ndarray | None = None  # (R, size) flat parameters at each snapshot (TrainConfig.record_params)

    @property
    def final_step(self) -> int:
        return int(self.steps[-1]) if len(self.steps) else 0

    def at(self, step: int) -> "Run":
        """The run as it stood after ``step`` updates: curves up to it, snapshots up to it, and (when
        ``record_params`` kept them) its parameters then.  The optimizer's schedule and the training
        stream do not depend on the total step count, so this is the run that training for ``step``
        steps would have given."""
        step = int(step)
        hit = np.flatnonzero(self.emb_steps == step)
        if not len(hit):
            raise InputError(f"the run has no snapshot at step {step} (its snapshots: every "
                             f"{self.train_cfg.record_every} steps up to {self.final_step})")
        k = int(hit[0])
        if step != self.final_step and self.param_hist is None:
            raise InputError(f"the run kept no parameters at step {step} (train it with record_params)")
        keep, kv, kf = self.steps <= step, self.val_steps <= step, self.fit_steps <= step
        return dataclasses.replace(
            self, train_cfg=dataclasses.replace(self.train_cfg, steps=step),
            message=f"{self.message}; read at step {step}", steps=self.steps[keep], train_loss=self.train_loss[keep],
            train_acc=self.train_acc[keep], lr=self.lr[keep], val_steps=self.val_steps[kv],
            val_loss=self.val_loss[kv], val_acc=self.val_acc[kv], fit_steps=self.fit_steps[kf],
            fit_loss=self.fit_loss[kf], fit_acc=self.fit_acc[kf], emb_steps=self.emb_steps[:k + 1],
            E_in=self.E_in[:k + 1], E_out=self.E_out[:k + 1], b_out=self.b_out[:k + 1],
            params=self.params if self.param_hist is None else self.param_hist[k].copy(),
            param_hist=None if self.param_hist is None else self.param_hist[:k + 1])

    def model(self):
        """The final parameters as a ``models.model.Model``."""
        from .model import Model

        return Model(self.model_cfg, P=self.params.copy())

    def distances(self, pairs, role: str = "in") -> np.ndarray:
        """(R, n_pairs) Euclidean distances ||E[a] - E[b]|| between symbol rows at each recorded step."""
        if role not in ("in", "out"):
            raise InputError(f"unknown embedding role {role!r} (expected in or out)")
        E = self.E_in if role == "in" else self.E_out
        idx = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        V = E.shape[1]
        if idx.size and (idx.min() < 0 or idx.max() >= V):
            raise InputError(f"symbol pair {idx[np.any((idx < 0) | (idx >= V), axis=1)][0].tolist()} "
                             f"is outside the vocabulary of {V} symbols")
        return np.linalg.norm(E[:, idx[:, 0]] - E[:, idx[:, 1]], axis=-1)

    # ------------------------------------------------------------------ save / load
    def config(self) -> dict:
        return {"model": self.model_cfg.to_dict(), "train": self.train_cfg.to_dict(), "corpus": self.corpus_info,
                "status": self.status, "message": self.message, "final_step": self.final_step,
                "version": package_version()}

    def metrics_csv(self) -> str:
        val = dict(zip(self.val_steps.tolist(), zip(self.val_loss.tolist(), self.val_acc.tolist())))
        fit = dict(zip(self.fit_steps.tolist(), zip(self.fit_loss.tolist(), self.fit_acc.tolist())))
        lines = [",".join(METRICS)]
        for s, l, a, r in zip(self.steps.tolist(), self.train_loss.tolist(), self.train_acc.tolist(),
                              self.lr.tolist()):
            vl, va = val.get(s, (np.nan, np.nan))
            fl, fa = fit.get(s, (np.nan, np.nan))
            lines.append(",".join([str(s)] + [repr(float(x)) for x in (l, a, vl, va, r, fl, fa)]))
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path, force: bool = False) -> Path:
        path = atomic.check_target(path, force, folder=True)
        with atomic.directory(path, force) as tmp:
            self.write_into(tmp)
        return path

    def write_into(self, folder: str | Path) -> None:
        """Write the run's three files into a folder the caller makes atomic (``save``, or a sweep's run)."""
        folder = Path(folder)
        # the validation steps, explicitly: a NaN validation loss (a diverged run) is still a point
        cfg = {**self.config(), "val_steps": self.val_steps.tolist(), "fit_steps": self.fit_steps.tolist()}
        (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        (folder / "metrics.csv").write_text(self.metrics_csv())
        extra = {} if self.param_hist is None else {"param_hist": self.param_hist}
        np.savez_compressed(folder / "embeddings.npz", steps=self.emb_steps, E_in=self.E_in, E_out=self.E_out,
                            b_out=self.b_out, params=self.params, **extra)

    @classmethod
    def load(cls, path: str | Path) -> "Run":
        path = Path(path)
        files = [path / n for n in ("config.json", "metrics.csv", "embeddings.npz")]
        for f in files:
            if not f.is_file():
                raise InputError(f"run folder {path} has no {f.name}")
        try:
            c = json.loads(files[0].read_text())
            model_cfg, train_cfg = ModelConfig(**c["model"]), TrainConfig(**c["train"])
            with files[1].open() as f:
                rows = list(csv.reader(f))
            if tuple(rows[0]) not in (METRICS, OLD_METRICS):
                raise InputError(f"{files[1]} has columns {rows[0]}, expected {list(METRICS)}")
            m = np.array(rows[1:], dtype=np.float64).reshape(-1, len(rows[0]))
            if m.shape[1] == len(OLD_METRICS):
                m = np.concatenate([m, np.full((len(m), 2), np.nan)], axis=1)
            with np.load(files[2], allow_pickle=False) as z:
                emb = {k: z[k] for k in ("steps", "E_in", "E_out", "b_out", "params")}
                emb["param_hist"] = z["param_hist"] if "param_hist" in z.files else None
        except (KeyError, TypeError, ValueError, OSError, IndexError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"run folder {path} is unreadable ({type(e).__name__}: {e})") from None
        has_val = np.isin(m[:, 0], c["val_steps"]) if "val_steps" in c else ~np.isnan(m[:, 3])
        has_fit = np.isin(m[:, 0], c.get("fit_steps", []))
        return cls(model_cfg, train_cfg, c["corpus"], c["status"], c["message"],
                   steps=m[:, 0].astype(np.int64), train_loss=m[:, 1], train_acc=m[:, 2], lr=m[:, 5],
                   val_steps=m[has_val, 0].astype(np.int64), val_loss=m[has_val, 3], val_acc=m[has_val, 4],
                   fit_steps=m[has_fit, 0].astype(np.int64), fit_loss=m[has_fit, 6], fit_acc=m[has_fit, 7],
                   emb_steps=emb["steps"], E_in=emb["E_in"], E_out=emb["E_out"], b_out=emb["b_out"],
                   params=emb["params"], param_hist=emb["param_hist"])
