"""docs/torch.md's example: a tiny Hugging Face BERT, tied and untied, on a twins corpus, then tying.analyze.

    pip install -e ".[torch]" transformers
    python docs/torch_example.py          # writes docs/figures/torch-twins.png/.pdf and prints the claims
"""
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import BertConfig, BertForMaskedLM

import tying
from tying.experiments.analysis import figure_panels
from tying.figures import plot_distances
from tying.generators import load_grammar, pcfg_corpus
from tying.torch import StreamDataset

STEPS, BATCH, EVERY, SEED = 3000, 64, 250, 0
torch.set_num_threads(1)  # tiny tensors: more threads only contend on a shared machine
t0 = time.time()
corpus = tying.transforms.twins(pcfg_corpus(load_grammar("toy-english"), 2000, SEED, task="mlm"), 6, 0.5)


def train_bert(tied: bool) -> dict:
    torch.manual_seed(SEED)
    cfg = BertConfig(vocab_size=corpus.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=corpus.max_len, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, pad_token_id=None,  # id 0 is a word here, not padding
                     tie_word_embeddings=tied)
    model = BertForMaskedLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)

    def tables():
        E_in = model.get_input_embeddings().weight.detach().double().numpy().copy()
        return E_in, model.get_output_embeddings().weight.detach().double().numpy().copy()

    snaps = {0: tables()}
    for step, batch in enumerate(StreamDataset(corpus, "train", BATCH, SEED, steps=STEPS), start=1):
        loss = model(**batch).loss  # mean cross-entropy over the labels that are not -100: our loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % EVERY == 0:
            snaps[step] = tables()
    print(f"{'tied' if tied else 'untied'}: final batch loss {loss.item():.3f}")
    return tying.analyze(*snaps[STEPS], corpus, snapshots=snaps)


res = {tied: train_bert(tied) for tied in (True, False)}
for tied, r in res.items():
    for c in r["claims"]:
        print(f"{'tied  ' if tied else 'untied'} {'PASS' if c['passed'] else 'fail'} {c['claim']}: "
              f"{', '.join(f'{v:.3f}' for v in c['values'])}")
panels, relation = figure_panels(list(res.values()))
plot_distances(res[True]["steps"], panels, relation,
               out=Path(__file__).parent / "figures" / "torch-twins", force=True,
               title="BertForMaskedLM on toy-english twins: twin rows, tied and untied")
print(f"{time.time() - t0:.0f} s; torch {torch.__version__}, transformers {transformers.__version__}, "
      f"tying {tying.__version__}, numpy {np.__version__}")
