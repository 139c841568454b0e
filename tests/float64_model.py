"""Test-only: the DualEncoder in float64, for equivalence tests across process
layouts (2 ranks, FSDP, resume vs one process). The layouts sum in different
orders; float32 rounding of that differs between CPUs by more than a tolerance
that still detects a wrong gradient (docs/reliability.md).

Example config (the module is found through PYTHONPATH, tests/ included)::

    custom_imports = dict(imports=['tpc_cma_mm', 'float64_model'])
    model = dict(type='Float64DualEncoder', ...,
                 data_preprocessor=dict(type='Float64DataPreprocessor', to_rgb=False))
"""
from tpc_cma_mm.models import DualEncoder, DualEncoderDataPreprocessor
from tpc_cma_mm.registry import MODELS

# The text a config appends to a tools/train.py config of the tiny model.
FLOAT64_CONFIG = '''
custom_imports = dict(imports=['tpc_cma_mm', 'float64_model'], allow_failed_imports=False)
model['type'] = 'Float64DualEncoder'
model['data_preprocessor']['type'] = 'Float64DataPreprocessor'
'''


@MODELS.register_module(force=True)
class Float64DualEncoder(DualEncoder):
    """``DualEncoder`` whose parameters and buffers are float64."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.double()


@MODELS.register_module(force=True)
class Float64DataPreprocessor(DualEncoderDataPreprocessor):
    """Images in float64 (mmengine's ``ImgDataPreprocessor`` casts to float32)."""

    def forward(self, data: dict, training: bool = False) -> dict:
        out = super().forward(data, training)
        out['inputs'] = out['inputs'].double()
        return out
