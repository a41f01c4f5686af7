"""The results as JSON, a markdown report and a figure (``latest.json``, ``latest.md``, ``latest.png``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from tying.figures import style
from tying.core import atomic

TARGETS = {"small": 15.0, "medium": 5.0}  # issue 6: ours / torch eager, single-threaded


def write(result: dict, out_dir: Path, name: str = "latest") -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.json", out_dir / f"{name}.md"]
    atomic.write_text(paths[0], json.dumps(result, indent=1, allow_nan=False) + "\n")
    atomic.write_text(paths[1], markdown(result, f"{name}.png"))
    png, _ = style.save(figure(result), out_dir / name, force=True)
    return paths + [png]


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.3g}"


def _rate(r: dict) -> str:
    return f"{_num(r['steps_per_s'])} ({_num(r['min'])}–{_num(r['max'])})"


def markdown(res: dict, png: str) -> str:
    m = res["machine"]
    la = lambda v: "n/a" if v is None else " / ".join(f"{x:.1f}" for x in v)  # noqa: E731
    lines = [
        f"# Benchmarks ({'quick' if res['quick'] else 'full'} run, {res['started']})", "",
        f"Machine: {m['model']}, {m['cores']} cores at {m['ghz']:.2f} GHz, widest FMA unit {m['isa']}; "
        f"Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}, torch {m['torch']}; "
        f"{m['platform']}.  Load average (1/5/15 min) {la(m['load_average'])} at the start and "
        f"{la(m.get('load_average_end'))} at the end: the machine is shared, so single-threaded ratios "
        "also appear in CPU time, which other processes do not inflate.", "",
        f"Peak, assumed {m['peak_assumption']}: {m['peak_gflops_f64_1core']:.1f} GFLOP/s float64 and "
        f"{m['peak_gflops_f32_1core']:.1f} float32 per core ({m['peak_gflops_f64']:.1f} / "
        f"{m['peak_gflops_f32']:.1f} on all cores).  The whole benchmark took {res['seconds']:.0f} s.", "",
        f"![benchmarks]({png})", "",
        "## Agreement with the PyTorch reference (float64, rtol 1e-6)", "",
        "Each case runs a few AdamW + cosine steps in both from the same parameters: the loss, every "
        "gradient block and every updated parameter block agree (worst max|ours - torch| / max|torch| shown); "
        "timing is refused otherwise.  The LSTM: " + res["lstm"] + ".", "",
    ]
    lines += _table(["case", "steps", "loss", "gradient (block)", "parameters (block)"],
                    [[a["case"], a["steps"], f"{a['loss_rel']:.1e}", f"{a['grad_rel']:.1e} ({a['grad_block']})",
                      f"{a['param_rel']:.1e} ({a['param_block']})"] for a in res["agreement"]])
    fc = res.get("flop_check", [])
    if fc:
        lines += ["", f"The FLOP formulas (`benchmarks/flops.py`) equal torch's `FlopCounterMode` count of one "
                  f"forward + backward exactly on {len(fc)} configs (plus the attention products it does not see)."]
    lines += ["", "## Training throughput on parity-7 (one step = the whole train split, one masked bit each)", "",
              "Steps per second, median (min–max) over the interleaved repeats; ours is the real numba training "
              "loop (`models.loop_kernels.train_steps`, float64), torch is eager forward, backward, "
              f"`torch.optim.AdamW` and `CosineAnnealingLR`.  Our kernels are single-threaded (no `prange`), so the "
              "2-thread rows show what a second thread buys torch; on a shared machine its two OpenMP threads "
              "wait at every barrier for whichever core another process holds (see the load average), so "
              "those rows measure the machine as much as torch.  Targets (1 thread, vs torch): paper-small "
              f">= {TARGETS['small']:g}x, medium >= {TARGETS['medium']:g}x.", ""]
    lines += _table(["arch", "size", "threads", "ours", "torch float32", "torch float64", "ours / torch32",
                     "ours / torch64", "same, CPU time"],
                    [[r["arch"], r["size"], r["threads"], _rate(r["ours"]), _rate(r["torch_float32"]),
                      _rate(r["torch_float64"]), f"{r['ratio_torch_float32']:.1f}x", f"{r['ratio_torch_float64']:.1f}x",
                      f"{r['cpu_ratio_torch_float32']:.1f}x / {r['cpu_ratio_torch_float64']:.1f}x"
                      if r["threads"] == 1 else "n/a"] for r in res["throughput"]])
    t = res["train"]
    lines += ["", "## End to end", "",
              f"`models.train.train`, paper-small transformer on parity-7, {t['steps']} steps with the stream, "
              f"recording and validation every 100 steps: **{t['ms_per_step']:.3f} ms per step** wall clock, "
              f"{t['cpu_ms_per_step']:.3f} in CPU time (target <= 0.25), so the paper's {150_000:,} steps take "
              f"**{t['paper_run_s']:.0f} s** ({t['cpu_paper_run_s']:.0f} s of CPU; target <= 40).  A warm start "
              f"(numba cache filled) reaches its first step in **{t['warm_start_s']:.2f} s** from a fresh process "
              f"(target <= 2; {t['warm_start_in_python_s']:.2f} s after the interpreter is up).", ""]
    sc = res["scaling"]
    lines += ["## Scaling (1 thread; ours float64, torch float32)", "",
              "One factor at a time around paper-small (d 4, V 7, T 8, batch 115, one layer, one masked "
              "position per sequence), plus the largest corner for the transformer.  GFLOP/s count the FLOPs "
              "each side actually performs (ours skips the last transformer layer's non-target rows); "
              "% of the one-core peak in its dtype.", ""]
    lines += _table(["arch", "d", "V", "T", "batch", "ours ms/step", "torch ms/step", "ours / torch",
                     "ours µs/token", "torch µs/token", "ours GFLOP/s", "torch GFLOP/s"],
                    [[r["arch"], r["d"], r["V"], r["T"], r["B"], f"{1e3 / r['ours']['steps_per_s']:.3f}",
                      f"{1e3 / r['torch_float32']['steps_per_s']:.3f}", f"{r['ratio']:.2f}x",
                      f"{r['us_per_token_ours']:.3f}", f"{r['us_per_token_torch']:.3f}",
                      f"{r['gflops_ours']:.2f} ({100 * r['peak_fraction_ours']:.1f}%)",
                      f"{r['gflops_torch']:.2f} ({100 * r['peak_fraction_torch']:.1f}%)"] for r in sc["points"]])
    wins = [r for r in sc["points"] if r["ratio"] < 1]
    lines += ["", "torch eager is faster at: " + ("; ".join(
        f"{r['arch']} d={r['d']} V={r['V']} T={r['T']} batch={r['B']} ({1 / r['ratio']:.1f}x)" for r in wins)
        if wins else "none of these points") + "."]
    lines += ["", "Exponent k of the time per step ~ x^k: least squares over the line, and the slope between "
              "its two largest points (once fixed per-step costs stop dominating).", ""]
    keys = sorted({k.rsplit(".", 2)[0] + "." + k.rsplit(".", 1)[1] for k in sc["exponents"]})
    rows = []
    for key in keys:
        arch, x = key.split(".")
        o, tt = sc["exponents"][f"{arch}.ours.{x}"], sc["exponents"][f"{arch}.torch_float32.{x}"]
        rows.append([arch, x, ", ".join(map(str, o["x"])), f"{o['fit']:.2f}", f"{o['top']:.2f}", f"{tt['fit']:.2f}",
                     f"{tt['top']:.2f}"])
    lines += _table(["arch", "factor", "values", "ours fit", "ours top", "torch fit", "torch top"], rows)
    g = res["generators"]
    p = g["pcfg"]
    lines += ["", "## Generators", "",
              f"- PCFG `toy-english`: **{p['tokens_per_s'] / 1e6:.2f} M tokens/s** per core in CPU time "
              f"({p['wall_tokens_per_s'] / 1e6:.2f} M/s wall clock; {p['tokens']:,} tokens; target 1 M/s).",
              *[f"- parity-7 population ({'the train split' if k.endswith('train') else 'all 128 strings'}): "
                f"{v['targets']:,} (context, target) pairs enumerated in {1e3 * v['seconds']:.1f} ms"
                for k, v in g.items() if k.startswith("parity7")]]
    if "text" in g:  # results written before the text benchmark existed have none
        t = g["text"]
        w = t["words"]
        lines += [f"- `text_corpus` on a {t['file_bytes'] / 1e6:.0f} MB file: words **{w['tokens_per_s'] / 1e6:.2f} M "
                  f"tokens/s** ({t['words_vs_naive_mb_per_s']:.2f}x the MB/s of a naive split + dict pass), peak "
                  f"memory {w['rss_ratio']:.2f}x the file; chars {t['chars']['tokens_per_s'] / 1e6:.2f} M "
                  f"tokens/s, {t['chars']['rss_ratio']:.2f}x (targets 1 M/s, 3x)."]
    s = res["sweep"]
    n_all = s["quick_runs"]
    lines += ["", "## Sweep throughput", "",
              f"The XOR sweep of `tying reproduce paper --quick` ({len(s['spec']['corpus'])} settings x "
              f"{', '.join(s['spec']['model']['arch'])} x tied / untied, {s['spec']['train']['steps']} steps each) "
              f"with one of its {s['quick_seeds']} seed(s), corpus building and worker start-up included:", ""]
    lines += _table(["workers", "runs", "seconds", "runs / min", f"all {n_all} runs would take", "statuses"],
                    [[w.split("_")[1], v["runs"], f"{v['seconds']:.1f}", f"{v['runs_per_min']:.1f}",
                      f"{n_all / v['runs_per_min']:.1f} min", ", ".join(v["statuses"])]
                     for w, v in s.items() if w.startswith("workers")])
    return "\n".join(lines) + "\n"


def figure(res: dict):
    """Throughput bars (1 thread) and the time per step against d and T, ours vs torch."""
    ours_c, torch_c, torch64_c = style.OKABE_ITO["blue"], style.OKABE_ITO["orange"], style.OKABE_ITO["vermillion"]
    with style.context():
        fig = style.figure(style.TEXT, 2.6)
        axes = fig.subplots(1, 3)
        rows = [r for r in res["throughput"] if r["threads"] == 1]
        x = np.arange(len(rows))
        for i, (key, color, label) in enumerate((("ours", ours_c, "ours (numba, float64)"),
                                                 ("torch_float32", torch_c, "torch eager float32"),
                                                 ("torch_float64", torch64_c, "torch eager float64"))):
            vals = [r[key]["steps_per_s"] for r in rows]
            err = [[v - r[key]["min"] for v, r in zip(vals, rows)], [r[key]["max"] - v for v, r in zip(vals, rows)]]
            axes[0].bar(x + (i - 1) * 0.27, vals, 0.27, yerr=err, color=color, label=label, error_kw={"lw": 0.6})
        short = {"transformer": "trf", "mixer": "mix", "lstm": "lstm"}
        axes[0].set_xticks(x, [f"{short.get(r['arch'], r['arch'])}\n{r['size'][0].upper()}" for r in rows])
        axes[0].set_xlabel("S: paper-small, M: medium")
        axes[0].set_yscale("log")
        axes[0].set_ylabel("steps / s (1 thread)")
        axes[0].set_title("parity-7 training")
        pts = res["scaling"]["points"]
        for ax, k in zip(axes[1:], ("d", "T")):
            for arch, ls in (("transformer", "-"), ("mixer", "--")):
                line = sorted((r for r in pts if r["arch"] == arch and all(
                    r[j] == b for j, b in (("d", 4), ("V", 7), ("T", 8), ("B", 115)) if j != k)), key=lambda r: r[k])
                if len(line) < 2:
                    continue
                xs = [r[k] for r in line]
                ax.plot(xs, [1e3 / r["ours"]["steps_per_s"] for r in line], ls, marker="o", color=ours_c)
                ax.plot(xs, [1e3 / r["torch_float32"]["steps_per_s"] for r in line], ls, marker="s", color=torch_c)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel({"d": "model width d", "T": "sequence length T"}[k])
            ax.set_ylabel("ms / step")
            ax.set_title(f"cost vs {k} (1 thread)")
        handles, labels = axes[0].get_legend_handles_labels()
        for arch, ls in (("transformer", "-"), ("mixer", "--")):
            handles.append(Line2D([], [], color="black", linestyle=ls))
            labels.append(arch)
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
    return fig
