"""tpc_cma_mm: controllable modality-gap closing (TPC-CMA) for mmpretrain.

Importing the package registers every module in the ``tpc_cma_mm`` scope, adds
the package to mmengine's table of config packages (so that a config can say
``_base_ = ['tpc_cma_mm::tpc_cma/<name>.py']`` once the plugin is imported), and
changes nothing else: mmengine's checkpoint loaders stay as they are outside
:func:`tpc_cma_mm.utils.safe_loading`, which this plugin's tools, APIs and
checkpoint hook open around their loads (docs/reliability.md, "Checkpoints never run code").
"""
import warnings

from mmengine.config.utils import MODULE2PACKAGE

with warnings.catch_warnings():
    # mmcv-lite has no compiled ops; mmpretrain's import of mmcv's transformer bricks
    # warns about the one op it lacks at every start, which nothing here uses.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``',
                            category=UserWarning, module=r'mmcv\.')
    from . import datasets, engine, evaluation, models  # noqa: F401  (registration)

# mmengine resolves 'package::config' only for the packages in this table; the
# configs lie in the installed package's .mim folder (setup.py, package_data).
MODULE2PACKAGE.setdefault('tpc_cma_mm', 'tpc_cma_mm')

__version__ = '0.1.0'
__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models']
