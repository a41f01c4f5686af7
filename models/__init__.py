"""Small softmax language models in numba, tied or untied, and their training.

The face (what the layers above may import)::

    ModelConfig, TrainConfig, OBJECTIVES          config.py   plain values, validated once
    SQRT_D, VARIANT_DEFAULTS                      config.py   the input_multiplier that means sqrt(d); the
                                                              tying variants' neutral values
    archs, ARCHS                                  archs.py    the one table of architectures (REGISTRY):
                                                              codes, kernel modules, paper-small/medium shapes
    Model                                         model.py    parameters, the sharing map, forward
    Optimizer                                     optimizer.py  a TrainConfig's optimizer over a Model:
                                                              runs n steps of the numba loop
    train, Run, training_stream                   train.py, run.py   a training run and its record
    check_memory                                  memory.py   refuse what would not fit
    params                                        params.py   the flat parameter layout (EMB, OUT_BIAS, D_R, ...)

Kernels (``*_kernels.py``) are small numba functions by topic, arrays in and
arrays out; ``loop_kernels.train_steps`` runs many steps per call (tying
variants through ``variant_kernels``, their state from ``variants.py``), and
``Optimizer.run`` is how everything outside this package calls it.
"""
from . import archs, params
from .archs import ARCHS
from .config import OBJECTIVES, SQRT_D, VARIANT_DEFAULTS, ModelConfig, TrainConfig
from .memory import check_memory
from .model import Model
from .optimizer import Optimizer
from .run import Run
from .train import compiled, train, training_stream

__all__ = ["archs", "params", "ARCHS", "OBJECTIVES", "SQRT_D", "VARIANT_DEFAULTS", "ModelConfig", "TrainConfig",
           "check_memory", "compiled", "Model",
           "Optimizer", "Run", "train", "training_stream"]
