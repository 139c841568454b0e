"""Registries of the ``tpc_cma_mm`` scope.

Every registry is a child of mmpretrain's, so with ``default_scope='tpc_cma_mm'``
a config can name this plugin's modules and every mmpretrain / mmengine module
(``type='ResNet'``, ``type='Accuracy'``, ``type='UniversalVisualizer'`` ...).
``locations`` lets the Runner import the plugin lazily from the scope alone.
"""
# A child registry only searches its parent's *registered* modules, and
# mmpretrain registers them on import of its sub-packages (docs/pitfalls.md, "Registry scope").
import mmpretrain.datasets  # noqa: F401
import mmpretrain.engine  # noqa: F401
import mmpretrain.evaluation  # noqa: F401
import mmpretrain.models  # noqa: F401
import mmpretrain.visualization  # noqa: F401
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'BATCH_AUGMENTS', 'DATA_SAMPLERS', 'DATASETS', 'EVALUATORS', 'HOOKS',
    'LOG_PROCESSORS', 'LOOPS', 'METRICS', 'MODEL_WRAPPERS', 'MODELS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS', 'OPTIMIZERS',
    'PARAM_SCHEDULERS', 'RUNNER_CONSTRUCTORS', 'RUNNERS', 'TASK_UTILS',
    'TOKENIZER', 'TRANSFORMS', 'VISBACKENDS', 'VISUALIZERS',
    'WEIGHT_INITIALIZERS'
]


# A registry without locations in a scope of mmengine's config-package table (which
# tpc_cma_mm/__init__.py joins) makes mmengine call tpc_cma_mm.utils.register_all_modules;
# the pass-through ones therefore name the package itself.
def _child(name: str, locations=('tpc_cma_mm', )) -> Registry:
    parent = getattr(mmpretrain_registry, name)
    return Registry(parent.name, parent=parent, locations=list(locations))


# Registries this plugin registers into: the Runner imports these locations.
MODELS = _child('MODELS', ['tpc_cma_mm.models'])
DATASETS = _child('DATASETS', ['tpc_cma_mm.datasets'])
TRANSFORMS = _child('TRANSFORMS', ['tpc_cma_mm.datasets.transforms'])
METRICS = _child('METRICS', ['tpc_cma_mm.evaluation'])
HOOKS = _child('HOOKS', ['tpc_cma_mm.engine'])
TOKENIZER = _child('TOKENIZER', ['tpc_cma_mm.models'])  # tokenizers live here, as in mmpretrain
# Registries the plugin only passes through to mmpretrain / mmengine.
DATA_SAMPLERS = _child('DATA_SAMPLERS')
RUNNERS = _child('RUNNERS')
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS')
LOOPS = _child('LOOPS')
LOG_PROCESSORS = _child('LOG_PROCESSORS')
OPTIMIZERS = _child('OPTIMIZERS')
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS')
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS')
MODEL_WRAPPERS = _child('MODEL_WRAPPERS')
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS')
BATCH_AUGMENTS = _child('BATCH_AUGMENTS')
TASK_UTILS = _child('TASK_UTILS')
EVALUATORS = _child('EVALUATORS')
VISUALIZERS = _child('VISUALIZERS')
VISBACKENDS = _child('VISBACKENDS')
