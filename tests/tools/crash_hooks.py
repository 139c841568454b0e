"""Test-only hook: makes a training process stall so a test can SIGKILL it."""
import os
import time

from mmengine.hooks import Hook

from tpc_cma_mm.registry import HOOKS


@HOOKS.register_module(force=True)
class StallAfterIterHook(Hook):
    """After iteration ``$TPC_STALL_AT`` (1-based, once every other hook,
    checkpointing included, has run) touch ``$TPC_STALL_MARKER`` and sleep
    until killed. A no-op when ``TPC_STALL_AT`` is unset.

    Example config::

        custom_imports = dict(imports=['tpc_cma_mm', 'crash_hooks'])
        custom_hooks = [dict(type='StallAfterIterHook')]
    """

    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        stall_at = os.environ.get('TPC_STALL_AT')
        if stall_at and runner.iter + 1 == int(stall_at):
            with open(os.environ['TPC_STALL_MARKER'], 'w') as f:
                f.write(str(runner.iter + 1))
            while True:
                time.sleep(1)
