"""``init_cfg=dict(type='Pretrained')`` that refuses a checkpoint which does not fit.

mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs the keys
it could not use, so an unconverted OpenAI checkpoint trained a random image
tower while ``load_from`` refused the same file (``AtomicCheckpointHook``). In
this plugin's scope (``default_scope='tpc_cma_mm'``, set by every config of this
project and by ``tpc_cma_mm.apis.init_model``) ``Pretrained`` is the class
below: mmengine's loading, preceded by the check ``load_from`` runs.
"""
import re
from typing import Sequence

from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import (_load_checkpoint, _load_checkpoint_with_prefix,
                                        load_state_dict)

from tpc_cma_mm.registry import WEIGHT_INITIALIZERS
from tpc_cma_mm.utils.checkpoint import close_run_scopes
from tpc_cma_mm.utils.state_dict_check import CheckpointMismatchError, check_state_dict

__all__ = ['CheckedPretrainedInit']


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class CheckedPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` initialiser, refusing a checkpoint with missing or
    shape-mismatched keys (:class:`~tpc_cma_mm.utils.CheckpointMismatchError`
    naming them) before anything is copied.

    Example config::

        model = dict(type='DualEncoder', ...,
                     init_cfg=dict(type='Pretrained', checkpoint='clip_b16_converted.pth'))
        # one tower of a whole-model checkpoint:
        vision_backbone = dict(type='VisionTransformer', ..., init_cfg=dict(
            type='Pretrained', checkpoint='clip_b16_converted.pth', prefix='visual.'))

    Args:
        checkpoint, prefix, map_location: As mmengine's ``PretrainedInit``.
        allow_missing (sequence of str): Regular expressions of the module's keys
            the checkpoint may lack (as ``AtomicCheckpointHook.allow_missing``).
    """

    def __init__(self, checkpoint, prefix=None, map_location='cpu',
                 allow_missing: Sequence[str] = ()):
        super().__init__(checkpoint, prefix, map_location)
        self.allow_missing = tuple(allow_missing)

    def __call__(self, module) -> None:
        if self.prefix is None:
            loaded = _load_checkpoint(self.checkpoint, map_location=self.map_location,
                                      logger='current')
            state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else loaded
        else:
            state = _load_checkpoint_with_prefix(self.prefix, self.checkpoint,
                                                 map_location=self.map_location)
        prefix = f' (prefix {self.prefix!r})' if self.prefix else ''
        try:
            check_state_dict(module, state, allow_missing=self.allow_missing,
                             source=f'init_cfg Pretrained checkpoint {self.checkpoint!r}{prefix}')
        except CheckpointMismatchError:
            close_run_scopes()  # the run stops here, as after a failed load
            raise
        print_log(f'load model from: {self.checkpoint}{prefix}', logger='current')
        load_state_dict(module, {re.sub(r'^module\.', '', k): v for k, v in state.items()},
                        strict=False, logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
