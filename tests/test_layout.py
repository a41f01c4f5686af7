"""The package's shape: one import name, `tying`, and layers that import only downwards, through faces.

docs/architecture.md draws the layers; these tests read every module's imports (ast, no execution) and
the installed distribution's file list, so a file moved against the plan fails here.
"""
import ast
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest

import tying

ROOT = Path(__file__).resolve().parents[1]
# folder -> layer; a module may import its own folder, lower layers, and nothing else.  theory and figures are
# peers that do not know each other; the command line (experiments/cli.py, experiments/commands/) is above the
# experiment library, the face package's own modules (tying/: the face, __main__, the torch bridge) above
# the command line, and the benchmarks (not installed) above everything.
LAYERS = {"core": 0, "generators": 1, "models": 2, "theory": 3, "figures": 3, "experiments": 4, "cli": 5,
          "tying": 6, "benchmarks": 7}
GENERIC = ("core", "generators", "models", "theory", "figures", "experiments")
# layers whose face (__init__'s __all__) is the only way in; core is a room of small modules, and the
# command line is a thin layer over the experiment library's modules
FACED = ("generators", "models", "theory", "figures")


def room(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "experiments" and (parts[1] == "cli.py" or parts[1] == "commands"):
        return "cli"
    return parts[0]


def target_room(module: str) -> str:
    parts = module.split(".")
    if parts[1] == "experiments" and len(parts) > 2 and parts[2] in ("cli", "commands"):
        return "cli"
    return parts[1] if parts[1] in GENERIC else "tying"  # tying.torch: a module of the face package


def face(package: str) -> set:
    """The names a layer's __init__ offers: its __all__ (read from the source, not imported)."""
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def violations(source: str, own: str, faces: dict) -> list[str]:
    """Every import in ``source`` (a module of room ``own``) that breaks the layering."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            mods, names = [node.module or ""], [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            mods, names = [a.name for a in node.names], []
        else:
            continue
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        if private:  # another module's private name, in this package or another
            bad.append(f"private {'.' * getattr(node, 'level', 0)}{mods[0]}.{', '.join(private)}")
        if getattr(node, "level", 0):
            if node.level > 1:  # a relative import that leaves its package
                bad.append(f"relative import {'.' * node.level}{node.module or ''}")
            continue
        for mod in mods:
            top = mod.split(".")[0]
            if top in GENERIC or (top == "benchmarks" and own != "benchmarks"):
                bad.append(f"bare import {mod} (import tying.{mod})")
                continue
            if top != "tying" or mod == "tying" or target_room(mod) == own:
                continue
            dest = target_room(mod)
            if LAYERS[dest] >= LAYERS[own]:
                bad.append(f"{mod} is not below {own}")
                continue
            parts = mod.split(".")
            if dest in FACED and len(parts) > 2 and parts[2] not in faces[dest]:
                bad.append(f"{mod} is behind the face of tying.{dest}")
    return bad


def library_files():
    for folder in (*GENERIC, "tying", "benchmarks"):
        yield from sorted((ROOT / folder).rglob("*.py"))


FACES = {p: face(p) for p in GENERIC}


def test_the_checks_read_every_layer_and_its_face():
    """The parametrised checks below see every layer (an empty file list would pass them vacuously)."""
    rooms = {room(p) for p in library_files()}
    assert rooms == set(LAYERS), rooms
    assert sum(1 for _ in library_files()) > 80
    assert all(FACES[p] for p in FACED), FACES


@pytest.mark.parametrize("path", list(library_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_through_faces(path):
    assert violations(path.read_text(), room(path), FACES) == []


@pytest.mark.parametrize("own, source, expect", [
    ("models", "from tying.experiments import sweep", "not below"),  # upwards
    ("generators", "from tying.models import train", "not below"),
    ("theory", "from tying.figures import style", "not below"),  # peers stay apart
    ("experiments", "from tying.experiments.cli import main", "not below"),  # the library uses no CLI
    ("theory", "from tying.models.train import _arrays", "private"),
    ("theory", "from tying.models.loop_kernels import train_steps", "behind the face"),
    ("figures", "from models import Run", "bare import"),
    ("experiments", "from tying.torch import StreamDataset", "not below"),  # the bridge sits above the library
    ("models", "from ..theory import lab", "relative import"),
])
def test_negative_controls_each_kind_of_violation_is_caught(own, source, expect):
    found = violations(source, own, FACES)
    assert found and all(expect in f for f in found), found


def test_negative_control_a_clean_module_passes():
    clean = ("from tying.core.errors import InputError\nfrom tying.generators import Corpus, transforms\n"
             "from tying.models import params, train\nfrom . import sibling\nimport numpy as np\n")
    assert violations(clean, "theory", FACES) == []


def test_every_face_name_resolves_to_its_layers_object():
    for name in tying.__all__:
        assert getattr(tying, name) is not None, name
    assert tying.train is tying.models.train and tying.Corpus is tying.generators.Corpus
    assert tying.transforms is tying.generators.transforms
    assert tying.verify is tying.theory.registry.verify
    for package in GENERIC:
        module = importlib.import_module(f"tying.{package}")
        for name in FACES[package]:
            assert hasattr(module, name), f"tying.{package}.{name}"
    with pytest.raises(AttributeError):
        tying.not_a_name


def test_installed_distribution_holds_one_top_level_name():
    """site-packages gets `tying` (and its dist-info and the `tying` script), none of the generic names."""
    # not the checkout's own tying.egg-info (its base is the checkout itself); CI's venv lies inside the checkout
    installed = [d for d in importlib.metadata.distributions(name="tying") if Path(d.locate_file("")).resolve() != ROOT]
    assert installed, "tying is not installed: this checks what `pip install .` puts in site-packages"
    tops = {f.parts[0] for f in installed[0].files}
    assert not tops & set(GENERIC), tops & set(GENERIC)
    for name in GENERIC:  # (a checkout's own folders count only when its root is on sys.path: python -m pytest)
        spec = importlib.util.find_spec(name)
        assert spec is None or Path(spec.origin).resolve().parent.parent == ROOT, f"a top-level {name!r} is installed"
    if not any(t.startswith("__editable__") for t in tops):  # a regular install, as in CI
        assert {t for t in tops if not t.startswith("..")} <= {"tying", f"tying-{tying.__version__}.dist-info"}, tops


def test_no_import_by_string_in_the_library():
    """Only core/lazy.py imports by name: the faces that load their names on first use go through it."""
    for path in [*library_files(), ROOT / "tying" / "__init__.py"]:
        if path != ROOT / "core" / "lazy.py":
            assert "import_module(" not in path.read_text(), path
