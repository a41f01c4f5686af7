"""Small softmax language models in numba, tied or untied, and their training.

The face (what the layers above may import)::

    ModelConfig, TrainConfig, ARCHS, OBJECTIVES   config.py   plain values, validated once
    Model                                         model.py    parameters, the sharing map, forward
    train, Run                                    train.py, run.py   a training run and its record
    check_memory                                  memory.py   refuse what would not fit
    params                                        params.py   the flat parameter layout (EMB, OUT_BIAS, D_R, ...)

Kernels (``*_kernels.py``) are small numba functions by topic, arrays in and
arrays out; ``loop_kernels.train_steps`` runs many steps per call.
"""
from . import params
from .config import ARCHS, OBJECTIVES, ModelConfig, TrainConfig
from .memory import check_memory
from .model import Model
from .run import Run
from .train import train

__all__ = ["params", "ARCHS", "OBJECTIVES", "ModelConfig", "TrainConfig", "check_memory", "Model", "Run", "train"]
