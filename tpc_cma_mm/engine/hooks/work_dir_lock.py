"""Refuse a second training in a work dir that another training is using."""
from mmengine.dist import broadcast_object_list, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from tpc_cma_mm.registry import HOOKS
from tpc_cma_mm.utils.work_dir_lock import WorkDirBusyError, lock_work_dir, unlock_work_dir

__all__ = ['WorkDirLockHook']


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Hold the work dir's lock (:func:`~tpc_cma_mm.utils.work_dir_lock.lock_work_dir`)
    for the life of a training run.

    A default hook in ``configs/_base_/default_runtime.py``. It runs first
    (``HIGHEST`` in ``before_run``), before any other hook opens a scope or
    tidies the work dir; a run that finds the lock taken stops there, naming
    the other run (pid, host, start time, command) and the fix (another
    ``--work-dir``). The rank-0 process locks; in a distributed run every rank
    stops together. Evaluation (``tools/test.py``) does not lock: it may read a
    work dir under training.

    Example config::

        default_hooks = dict(work_dir_lock=dict(type='WorkDirLockHook'))
    """

    priority = 'HIGHEST'

    def before_run(self, runner) -> None:
        # Runner.train builds its train loop before before_run; val() and test()
        # leave it a config (or None), so only a training locks.
        if not isinstance(runner._train_loop, BaseLoop):
            return
        refusal = None
        if is_main_process():
            try:
                if not lock_work_dir(runner.work_dir):
                    runner.logger.warning('No work-dir lock on this platform (no flock): '
                                          'nothing stops a second training in this work dir.')
            except WorkDirBusyError as err:
                refusal = str(err)
        if get_dist_info()[1] > 1:
            shared = [refusal]
            broadcast_object_list(shared)
            refusal = shared[0]
        if refusal:
            raise WorkDirBusyError(refusal)

    def after_run(self, runner) -> None:
        if is_main_process():
            unlock_work_dir(runner.work_dir)
