"""Corpus files: round trip, determinism, damaged files, and text/JSONL export."""
import io
import json

import numpy as np
import pytest

from tying.generators.corpus import SPLITS, Corpus
from tying.core.errors import InputError
from tying.generators.parity import parity_corpus


@pytest.fixture
def saved(tmp_path):
    c = parity_corpus(5, zero=(0.2, 0.3, 0.5), one=(0.6, 0.4), splits=(0.6, 0.3, 0.1), seed=9)
    return c, c.save(tmp_path / "c.npz")


def test_round_trip(saved):
    c, path = saved
    d = Corpus.load(path)
    for name in ("seqs", "offsets", "split", "maskable"):
        assert np.array_equal(getattr(c, name), getattr(d, name)) and getattr(c, name).dtype == getattr(d, name).dtype
    for name in ("variants", "weights", "class_of", "copy_src", "copy_map"):
        assert np.array_equal(getattr(c.real, name), getattr(d.real, name))
    assert (d.vocab, d.meanings, d.task, d.mask_rate, d.real.start_class) == \
        (c.vocab, c.meanings, c.task, c.mask_rate, c.real.start_class)
    assert (d.specials, d.relations, d.provenance) == (c.specials, c.relations, c.provenance)
    assert d.to_bytes() == path.read_bytes() == c.to_bytes()


def test_same_seed_same_bytes(tmp_path):
    a = parity_corpus(6, seed=11).save(tmp_path / "a.npz").read_bytes()
    b = parity_corpus(6, seed=11).save(tmp_path / "b.npz").read_bytes()
    assert a == b
    assert parity_corpus(6, seed=12).to_bytes() != a


def test_save_refuses_to_overwrite(saved):
    c, path = saved
    before = path.read_bytes()
    with pytest.raises(InputError, match="exists"):
        parity_corpus(3).save(path)
    assert path.read_bytes() == before
    parity_corpus(3).save(path, force=True)
    assert Corpus.load(path).n_sequences == 8


def test_truncated_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    for n in (0, 10, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"t{n}.npz"
        bad.write_bytes(data[:n])
        with pytest.raises(InputError, match="truncated or corrupted"):
            Corpus.load(bad)


def test_corrupted_bytes_never_pass_silently(saved, tmp_path):
    """Every flipped byte either leaves the stored data intact or gives an InputError."""
    c, path = saved
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    errors = 0
    for i in np.random.default_rng(0).choice(len(data), 300, replace=False):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            assert Corpus.load(bad).to_bytes() == c.to_bytes()  # e.g. a zip timestamp
        except InputError:
            errors += 1
    assert errors > 200


def rewrite(path, **changes):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())


def test_checksum_catches_changed_arrays(saved):
    c, path = saved
    seqs = c.seqs.copy()
    seqs[0] = 1 - seqs[0]
    rewrite(path, seqs=seqs)
    with pytest.raises(InputError, match="sha256 checksum"):
        Corpus.load(path)


def test_checksum_catches_changed_metadata(saved):
    _, path = saved
    with np.load(path) as z:
        meta = json.loads(z["meta"].tobytes())
    meta["vocab"][0] = "zz"
    rewrite(path, meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8))
    with pytest.raises(InputError, match="sha256 checksum"):
        Corpus.load(path)


def test_missing_array_and_missing_file(saved, tmp_path):
    _, path = saved
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "copy_map"}
    np.savez_compressed(tmp_path / "m.npz", **arrays)
    with pytest.raises(InputError, match="missing 'copy_map'"):
        Corpus.load(tmp_path / "m.npz")
    with pytest.raises(InputError, match="not found"):
        Corpus.load(tmp_path / "nope.npz")


def test_export_text(saved):
    c, _ = saved
    lines = c.export("text", seed=3).splitlines()
    assert len(lines) == c.n_sequences
    for i, line in enumerate(lines):
        words = line.split(" ")
        assert len(words) == 6
        for m, w in zip(c.sequence(i), words):  # each word is a positive-weight variant of its meaning
            assert c.real.surface_weights(m).get(c.vocab.index(w), 0) > 0
    assert c.export("text", seed=3) == "\n".join(lines) + "\n"
    assert c.export("text", seed=4) != c.export("text", seed=3)


def test_export_jsonl(saved):
    c, _ = saved
    rows = [json.loads(x) for x in c.export("jsonl", seed=3).splitlines()]
    assert len(rows) == c.n_sequences
    text = c.export("text", seed=3).splitlines()
    for i, r in enumerate(rows):
        assert r["split"] == SPLITS[c.split[i]]
        assert r["tokens"] == [c.vocab[j] for j in r["ids"]] == text[i].split(" ")
        assert r["meanings"] == [c.meanings[m] for m in c.sequence(i)]
        assert r["meanings"][-1] == ("label1" if r["meanings"].count("bit1") % 2 else "label0")


def test_export_unknown_format(saved):
    with pytest.raises(InputError, match="unknown export format"):
        saved[0].export("csv")
