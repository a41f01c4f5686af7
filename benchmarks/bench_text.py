"""Reading a text file into a corpus on one core: tokens/s, and peak memory against the file's size.

Targets: >= 1,000,000 tokens/s (tokenize + index, the whole ``text_corpus``)
and a peak of at most 3x the file's size.  The file is written here: a block
of toy-english sentences (capitalized, with a full stop, so the tokenizer sees
punctuation), repeated up to the size asked for (100 MB by default; the
repetition changes neither the vocabulary nor the cost per byte).  In the same
run, a reference: a naive ``line.lower().split()`` and dict pass over the same
file, one Python step per word.  Times are CPU seconds of this process
(single-threaded work), best of ``repeats``.  Peak memory is measured in a
child process: the growth of its peak resident size over what importing and a warm-up
left (Linux's VmHWM, reset through /proc/self/clear_refs), and the
tracemalloc peak (numpy's buffers included) in a second child when asked.

``python benchmarks/bench_text.py [--mb 100] [--out benchmarks/results/text.json]``
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tying.generators import load_grammar, pcfg_corpus, text_corpus

TARGET_TOKENS_PER_S = 1_000_000
TARGET_MEMORY_RATIO = 3.0
BLOCK_SENTENCES = 100_000

_CHILD = """
import gc, json, sys, tracemalloc
from tying.generators import text_corpus
path, small, tokenizer, trace = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

text_corpus(small, tokenizer=tokenizer)  # numba, imports, first-use caches
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # Linux: the peak (VmHWM) restarts from the current resident size
before = status("VmRSS:")
if trace:
    tracemalloc.start()
c = text_corpus(path, tokenizer=tokenizer)
out = {"rss_growth": status("VmHWM:") - before, "tokens": len(c.seqs)}
if trace:
    out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(out))
"""


def write_file(path: Path, megabytes: float, seed: int = 0) -> int:
    """Toy-english sentences repeated to about ``megabytes`` MB; returns the size in bytes."""
    c = pcfg_corpus(load_grammar("toy-english"), BLOCK_SENTENCES, seed, task="causal", splits=(1, 0, 0))
    block = "".join(line[:1].upper() + line[1:] + ".\n" for line in c.export("text").splitlines()).encode()
    want = int(megabytes * 1e6)
    with open(path, "wb") as f:
        for _ in range(want // len(block)):
            f.write(block)
        f.write(block[: want % len(block)].rsplit(b"\n", 1)[0] + b"\n")
    return path.stat().st_size


def naive(path: Path) -> int:
    index, ids = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            for w in line.lower().split():
                ids.append(index.setdefault(w, len(index)))
    np.array(ids, np.int32)
    return len(ids)


def _best(f, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        c0 = time.process_time()
        out = f()
        best = min(best, time.process_time() - c0)
    return best, out


def _memory(path: Path, small: Path, tokenizer: str, trace: bool) -> dict:
    r = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(small), tokenizer, "1" if trace else "0"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def run(megabytes: float = 100.0, repeats: int = 2, trace: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="tying-bench-text-") as tmp:
        path, small = Path(tmp) / "big.txt", Path(tmp) / "small.txt"
        size = write_file(path, megabytes)
        write_file(small, 0.01)
        text_corpus(small)  # first use outside the timing
        out = {"benchmark": "text_corpus", "file_bytes": size, "repeats": repeats,
               "file": f"toy-english sentences ({BLOCK_SENTENCES:,} per block, repeated), capitalized, full stop"}
        for tokenizer in ("words", "chars"):
            sec, c = _best(lambda: text_corpus(path, tokenizer=tokenizer, splits=(1, 0, 0)), repeats)
            n = len(c.seqs)
            del c
            mem = _memory(path, small, tokenizer, False)
            if trace and tokenizer == "words":
                mem["tracemalloc_peak"] = _memory(path, small, tokenizer, True)["tracemalloc_peak"]
            out[tokenizer] = {"tokens": n, "cpu_seconds": sec, "tokens_per_s": n / sec, "mb_per_s": size / sec / 1e6,
                              "rss_growth_bytes": mem["rss_growth"], "rss_ratio": mem["rss_growth"] / size,
                              **({"tracemalloc_peak_bytes": mem["tracemalloc_peak"],
                                  "tracemalloc_ratio": mem["tracemalloc_peak"] / size}
                                 if "tracemalloc_peak" in mem else {})}
        sec, n = _best(lambda: naive(path), repeats)
    w = out["words"]
    out["naive_split_dict"] = {"tokens": n, "cpu_seconds": sec, "tokens_per_s": n / sec, "mb_per_s": size / sec / 1e6}
    out["words_vs_naive_mb_per_s"] = w["mb_per_s"] / out["naive_split_dict"]["mb_per_s"]
    out["targets"] = {"tokens_per_s": TARGET_TOKENS_PER_S, "memory_ratio": TARGET_MEMORY_RATIO}
    out["meets_targets"] = {"speed": w["tokens_per_s"] >= TARGET_TOKENS_PER_S,
                            "memory": w["rss_ratio"] <= TARGET_MEMORY_RATIO}
    print(f"text_corpus on {size / 1e6:.0f} MB: words {w['tokens_per_s'] / 1e6:.2f} M tokens/s "
          f"({w['mb_per_s']:.1f} MB/s; naive split+dict {out['naive_split_dict']['mb_per_s']:.1f} MB/s, ratio "
          f"{out['words_vs_naive_mb_per_s']:.2f}), peak memory {w['rss_ratio']:.2f}x the file (rss growth)"
          + (f", {w['tracemalloc_ratio']:.2f}x (tracemalloc)" if "tracemalloc_ratio" in w else "")
          + f"; chars {out['chars']['tokens_per_s'] / 1e6:.2f} M tokens/s, {out['chars']['rss_ratio']:.2f}x")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_text.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100.0, help="file size in MB (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs, best kept (default %(default)s)")
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc child (slow on big files)")
    ap.add_argument("--out", type=Path, default=None, metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    out = run(args.mb, args.repeats, not args.no_trace)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
