"""Small softmax language models in numba, tied or untied, and their training."""
from .config import ModelConfig, TrainConfig
from .model import Model
from .run import Run
from .train import train

__all__ = ["ModelConfig", "TrainConfig", "Model", "Run", "train"]
