"""The package API under the tools: load a model, embed a split, caption, report, reproduce."""
from . import study
from .model import checkpoint_id, init_model, load_config, load_weights

__all__ = ['checkpoint_id', 'init_model', 'load_config', 'load_weights', 'study']
