"""Output paths of the wrong kind and corpora with out-of-range tables: one line, exit 2, nothing written."""
import numpy as np
import pytest

from tying.experiments.cli import main
from tying.core.errors import InputError
from tying.generators.parity import parity_corpus

GEN = ["generate", "parity", "--bits", "2", "--seed", "1"]


def _one_line_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_force_onto_a_folder_is_refused(tmp_path, capsys):
    (tmp_path / "adir").mkdir()
    err = _one_line_exit_2(capsys, GEN + ["-o", str(tmp_path / "adir"), "--force"])
    assert "is a folder" in err and (tmp_path / "adir").is_dir()


def test_parent_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f.npz").write_bytes(b"x")
    err = _one_line_exit_2(capsys, GEN + ["-o", str(tmp_path / "f.npz" / "x.npz")])
    assert "does not exist" in err and (tmp_path / "f.npz").read_bytes() == b"x"


def test_train_into_a_path_under_a_file_fails_before_training(tmp_path, capsys):
    corpus = tmp_path / "c.npz"
    assert main(GEN + ["-o", str(corpus)]) == 0
    capsys.readouterr()
    err = _one_line_exit_2(capsys, ["train", "--corpus", str(corpus), "--steps", "1", "--no-progress",
                                    "-o", str(corpus / "run")])
    assert "does not exist" in err


def test_train_onto_an_existing_file_with_force_is_refused(tmp_path, capsys):
    corpus = tmp_path / "c.npz"
    assert main(GEN + ["-o", str(corpus)]) == 0
    capsys.readouterr()
    err = _one_line_exit_2(capsys, ["train", "--corpus", str(corpus), "--steps", "1", "--no-progress",
                                    "-o", str(corpus), "--force"])
    assert "is a file" in err and corpus.stat().st_size > 0


@pytest.mark.parametrize("field, value, words", [
    ("class_of", 1000, "classes"), ("copy_src", 99, "copies"), ("copy_map", 99, "copy map"), ("split", 7, "split"),
])
def test_out_of_range_tables_are_refused(field, value, words):
    c = parity_corpus(bits=2)
    table = c.split if field == "split" else getattr(c.real, field)
    table[0] = value
    with pytest.raises(InputError, match=words):
        c.validate()


def test_negative_control_the_untouched_corpus_validates():
    assert parity_corpus(bits=2).validate() is not None
    assert np.all(parity_corpus(bits=2).real.class_of == 0)
