"""``tying train``: train one model on a corpus and write a run folder.

Settings come from, in increasing priority: the paper-small defaults of the
architecture with the paper's optimizer and schedule, a TOML file
(``--config``; [model] and [train] tables whose keys are the fields of
``ModelConfig`` and ``TrainConfig``), and the command-line options.
Exit codes: 0 completed, 1 diverged (the run folder is still written),
2 bad input, 130 interrupted (the partial run is written).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from tying.core import atomic, interrupt
from tying.generators import Corpus
from tying.core.errors import InputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# Options named like the config fields; an option left unset keeps the TOML file's value or the default.
OPTIONS = {
    "model": ("arch", "tied", "output_bias", "positional", "d", "layers", "heads", "ff", "token_ff", "channel_ff",
              "hidden", "activation", "dtype", "input_grad_scale", "input_multiplier", "tied_dims", "tie_map"),
    "train": ("steps", "seed", "mode", "batch_size", "optimizer", "lr", "weight_decay", "betas", "eps", "momentum",
              "schedule", "t_max", "eta_min", "record_every", "eval_every"),
}
KINDS = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list,),
         "tuple": (list, tuple), "None": ()}


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a model on a corpus and write a run folder",
                              description="Train one model on a corpus and write a run folder "
                              "(exit 0 completed, 1 diverged, 2 bad input, 130 interrupted).")
    p.add_argument("--corpus", required=True, metavar="PATH", help="corpus file written by `tying generate`")
    p.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing run folder")
    p.add_argument("--config", metavar="FILE.toml", help="[model] and [train] settings")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    m = p.add_argument_group("model (default: the architecture's paper-small configuration)")
    m.add_argument("--arch", help="bilinear, mixer, transformer or lstm (default transformer)")
    # flags default to None so that an absent flag keeps the TOML file's setting
    flag = dict(action="store_const", const=True, default=None)
    m.add_argument("--tied", **flag, help="tie input and output embeddings")
    m.add_argument("--untied", dest="tied", action="store_const", const=False, help="separate embeddings (default)")
    m.add_argument("--output-bias", **flag, help="a per-symbol output bias (off as in the paper)")
    m.add_argument("--positional", **flag, help="learned positional embeddings")
    m.add_argument("--merge", action="append", metavar="A,B",
                   help="share the output rows of symbols A and B (names or ids); repeatable")
    for name in ("d", "layers", "heads", "ff", "token_ff", "channel_ff", "hidden"):
        m.add_argument("--" + name.replace("_", "-"), type=int, metavar="N")
    m.add_argument("--activation", help="relu or gelu")
    m.add_argument("--dtype", help="float64 (default) or float32")
    v = p.add_argument_group("tying variants (each needs --tied but --input-grad-scale and --input-multiplier)")
    v.add_argument("--input-grad-scale", type=float, metavar="ALPHA",
                   help="the table receives ALPHA x the input role's gradient + the output role's (default 1; "
                   "the forward pass is unchanged; untied, it scales the input rows' gradient)")
    v.add_argument("--input-multiplier", type=_multiplier, metavar="C",
                   help="the input role reads C x the embedding; a number or sqrt(d) (default 1)")
    v.add_argument("--tied-dims", type=int, metavar="K",
                   help="share only the first K of the d embedding columns between the roles (0: untied, d: tied)")
    v.add_argument("--tie-map", **flag, help="output embeddings E W, with W a learned d x d matrix starting at "
                   "the identity")
    t = p.add_argument_group("training (default: the paper's AdamW and cosine schedule)")
    t.add_argument("--steps", type=int, metavar="N", help="optimizer steps (default 1000)")
    t.add_argument("--seed", type=int, metavar="S", help="model initialisation and data stream seed (default 0)")
    t.add_argument("--mode", help="sampled (the paper's stream, default) or population (exact expected gradient)")
    t.add_argument("--batch-size", type=int, metavar="N")
    t.add_argument("--optimizer", help="sgd, adam or adamw (default adamw)")
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--betas", type=_pair, metavar="B1,B2")
    t.add_argument("--eps", type=float)
    t.add_argument("--momentum", type=float, help="SGD momentum")
    t.add_argument("--schedule", help="constant or cosine (default cosine)")
    t.add_argument("--t-max", type=int, metavar="N", help="cosine period T_max (default 10000)")
    t.add_argument("--eta-min", type=float, help="cosine minimum lr (default 1e-5)")
    t.add_argument("--record-every", type=int, metavar="N", help="embeddings and train loss every N steps")
    t.add_argument("--eval-every", type=int, metavar="N", help="validation loss every N steps")
    p.set_defaults(func=run)


def _pair(text: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.9,0.999, got {text!r}") from None
    return a, b


def _multiplier(text: str):
    from tying.models import SQRT_D

    if text.replace(" ", "") == SQRT_D:
        return SQRT_D
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or {SQRT_D}, got {text!r}") from None


def read_config(path) -> dict:
    """{"model": {...}, "train": {...}} from a TOML file, with keys and value types checked."""
    from tying.models import ModelConfig, TrainConfig

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config file {path} is not valid TOML ({e})") from None
    for table in data:
        if table not in ("model", "train"):
            raise InputError(f"config file {path}: unknown table or key {table!r} (expected [model] and [train])")
    out = {}
    for table, cls in (("model", ModelConfig), ("train", TrainConfig)):
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        values = data.get(table, {})
        if not isinstance(values, dict):
            raise InputError(f"config file {path}: {table} must be a table")
        for key, value in values.items():
            if key not in fields:
                raise InputError(f"config file {path}: unknown key {key!r} in [{table}]")
            kinds = [k for part in str(fields[key]).split(" | ") for k in KINDS.get(part, ())]
            if isinstance(value, bool) and bool not in kinds or not isinstance(value, tuple(kinds)):
                raise InputError(f"config file {path}: [{table}] {key} has the wrong type ({value!r})")
        out[table] = dict(values)
    return out


def settings(args, corpus: Corpus) -> tuple:
    """(ModelConfig, TrainConfig) from the defaults, the TOML file and the options."""
    from tying.models import ModelConfig, TrainConfig

    cfg = read_config(args.config) if args.config else {"model": {}, "train": {}}
    for table, keys in OPTIONS.items():
        cfg[table].update({k: getattr(args, k) for k in keys if getattr(args, k) is not None})
    if args.merge:
        cfg["model"]["merge_out"] = [_merge_pair(text, corpus) for text in args.merge]
    return ModelConfig(**cfg["model"]), TrainConfig(**cfg["train"])


def _merge_pair(text: str, corpus: Corpus) -> tuple[int, int]:
    parts = text.split(",")
    if len(parts) != 2:
        raise InputError(f"--merge expects two symbols like A,B, got {text!r}")
    ids = []
    for part in parts:
        part = part.strip()
        if part in corpus.vocab:
            ids.append(corpus.vocab.index(part))
        elif part.lstrip("-").isdigit():
            ids.append(int(part))
        else:
            raise InputError(f"--merge: symbol {part!r} is not in the corpus vocabulary")
    return ids[0], ids[1]


def run(args) -> int:
    from tying.models import VARIANT_DEFAULTS, train

    out = atomic.check_target(args.output, args.force, folder=True)
    corpus = Corpus.load(args.corpus)
    model_cfg, train_cfg = settings(args, corpus)
    t0 = time.perf_counter()
    # Ctrl-C during training or saving: the run is saved with what was recorded, then the block's end
    # raises KeyboardInterrupt, which the CLI turns into exit 130
    with interrupt.deferred():
        result = train(corpus, model_cfg, train_cfg, progress=not args.no_progress)
        elapsed = time.perf_counter() - t0
        result.corpus_info["path"] = str(args.corpus)
        result.save(out, args.force)
        c, n = result.model_cfg, result.final_step
        val = f", val loss {result.val_loss[-1]:.4f} acc {result.val_acc[-1]:.3f}" if len(result.val_steps) else ""
        # a tying variant away from its neutral value is named, so the line says which model ran
        variant = "".join(f" {k}={getattr(c, k)}" for k, v in VARIANT_DEFAULTS.items() if getattr(c, k) != v)
        print(f"{out}: {c.arch} {'tied' if c.tied else 'untied'}{variant}, {result.status} at step {n} in "
              f"{elapsed:.1f} s"
              f" ({1000 * elapsed / max(n, 1):.3f} ms/step); train loss {result.train_loss[-1]:.4f}"
              f" acc {result.train_acc[-1]:.3f}{val}")
    if result.status == "diverged":
        print(f"tying train: {result.message}", file=sys.stderr)
        return 1
    return 130 if result.status == "interrupted" else 0
