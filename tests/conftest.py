"""Session set-up shared by every test module."""
import pytest


@pytest.fixture(scope="session", autouse=True)
def default_kernels():
    """Compile (or load) the default architecture's kernels once, before any test runs.

    The kernels compile per architecture, on first use. The tests that run ``tying`` in a subprocess under a
    deadline train the default transformer; on a cold cache its compile (a minute or more on a loaded
    machine) would otherwise fall inside one of those deadlines."""
    from tying.generators import parity_corpus
    from tying.models import ModelConfig, TrainConfig, train

    train(parity_corpus(bits=2, splits=(0.5, 0.5, 0.0)), ModelConfig(),
          TrainConfig(steps=2, record_every=1, eval_every=1), progress=False)
