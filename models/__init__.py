"""Small softmax language models in numba, tied or untied, and their training."""
from .config import ModelConfig, TrainConfig
from .model import Model

try:  # the trainer lands separately; the models work without it
    from .run import Run
    from .train import train
except ModuleNotFoundError as e:
    if e.name not in ("models.run", "models.train"):
        raise
