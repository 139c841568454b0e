"""Crash-safe checkpoints: atomic writes, late deletion, checked weights-only loading.

mmengine's ``LocalBackend.put`` opens the final file and writes into it, and
``CheckpointHook`` deletes the oldest checkpoint *before* writing the new one,
so a kill during a save can leave a truncated ``iter_N.pth`` and, with
``max_keep_ckpts=1``, nothing to resume from. Here, through mmengine's own
extension points (a registered file backend and a ``CheckpointHook``
subclass; no monkey-patching):

* :class:`AtomicLocalBackend` (``backend='atomic_local'``) writes with
  :func:`~tpc_cma_mm.utils.atomic_io.atomic_write` (temporary file, fsync,
  ``os.replace``): the final name holds nothing or a complete checkpoint;
* :class:`AtomicCheckpointHook` saves through it, rewrites ``last_checkpoint``
  atomically once the file is complete, deletes old checkpoints only after
  that, removes temporary files a kill left behind, and checks that a loaded
  state dict fits the model (:func:`~tpc_cma_mm.utils.check_state_dict`);
  every checkpoint records the digest of its tensors, which every load through
  ``safe_torch_load`` verifies (:mod:`tpc_cma_mm.utils.checkpoint.digest`);
  the Runner's own loads (weight initialisation, ``load_from``, resume), which
  come between ``before_run`` and the loop's start, happen inside
  :func:`~tpc_cma_mm.utils.safe_loading` (weights-only; mmengine's loaders
  are back once the checkpoint is read or the loop starts).
"""
import contextlib
import logging
import os
import os.path as osp
import re
from typing import Iterator, Sequence

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from tpc_cma_mm.registry import HOOKS
from tpc_cma_mm.utils.atomic_io import PARTIAL_SUFFIX, atomic_write
from tpc_cma_mm.utils.checkpoint import (DIGEST_KEY, close_safe_loading, content_digest,
                                         open_safe_loading)
from tpc_cma_mm.utils.dist import unwrap_model
from tpc_cma_mm.utils.state_dict_check import check_state_dict

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'atomic_write']

_PARTIAL = re.compile(r'^\..+\.[^.]+' + re.escape(PARTIAL_SUFFIX) + '$')


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` / ``put_text`` are atomic (:func:`atomic_write`).

    Example config::

        default_hooks = dict(checkpoint=dict(
            type='CheckpointHook', backend_args=dict(backend='atomic_local')))
    """

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))


class _UnusedFileClientNotices(logging.Filter):
    """Drops the two deprecation notices that mmengine's ``CheckpointHook.before_train``
    and ``save_checkpoint`` log at every run by building a ``FileClient`` they do
    not use (they write through ``file_backend`` when ``file_client_args`` is None)."""

    NOTICES = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias')

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOTICES)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that a kill at any moment cannot corrupt, and whose
    Runner loads checkpoints weights-only.

    Accepts every ``CheckpointHook`` argument; local checkpoints are written
    with :class:`AtomicLocalBackend` unless ``backend_args`` says otherwise.
    From ``before_run`` until the checkpoint is read (``after_load_checkpoint``)
    or the train / val / test loop starts, every load is weights-only
    (:func:`~tpc_cma_mm.utils.safe_loading`); a load that fails closes that
    scope too, since mmengine calls no hook then.

    Example config::

        default_hooks = dict(checkpoint=dict(
            type='AtomicCheckpointHook', by_epoch=False, interval=500,
            max_keep_ckpts=2, check_keys='error'))

    Args:
        check_keys (str): On loading (``load_from`` or resume), a state dict
            with shape-mismatched or missing keys: ``'error'`` raises
            :class:`~tpc_cma_mm.utils.CheckpointMismatchError` naming them,
            ``'warn'`` logs them, ``'off'`` skips the check.
        allow_missing (sequence of str): Regular expressions of model keys a
            checkpoint may lack (e.g. ``'^visual\\.'`` to load only a text tower).
        **kwargs: ``CheckpointHook`` arguments.
    """

    def __init__(self, *args, check_keys: str = 'error',
                 allow_missing: Sequence[str] = (), **kwargs):
        if check_keys not in ('error', 'warn', 'off'):
            raise ValueError("AtomicCheckpointHook.check_keys must be 'error', 'warn' "
                             f"or 'off', got {check_keys!r}")
        out_dir = kwargs.get('out_dir') or ''
        if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None \
                and '://' not in str(out_dir):
            kwargs['backend_args'] = dict(backend='atomic_local')
        super().__init__(*args, **kwargs)
        self.check_keys, self.allow_missing = check_keys, tuple(allow_missing)
        # The parent deletes the oldest checkpoint when it holds max_keep_ckpts
        # before a save; holding one more lets us delete only after the save.
        self._keep = self.max_keep_ckpts
        if self._keep > 0:
            self.max_keep_ckpts = self._keep + 1
        self._loading_scope = None

    def _atomic(self) -> bool:
        return isinstance(self.file_backend, AtomicLocalBackend)

    def before_run(self, runner) -> None:
        # The Runner initialises weights, then loads load_from / resumes,
        # right after before_run (mmengine's Runner.train / val / test).
        self._close_loading_scope()
        self._loading_scope = open_safe_loading(close_on_load_error=True)

    def _close_loading_scope(self) -> None:
        if self._loading_scope is not None:
            close_safe_loading(self._loading_scope)
            self._loading_scope = None

    def before_val(self, runner) -> None:
        self._close_loading_scope()

    def before_test(self, runner) -> None:
        self._close_loading_scope()

    def after_run(self, runner) -> None:
        self._close_loading_scope()

    def before_train(self, runner) -> None:
        self._close_loading_scope()
        with self._unused_file_client_quiet(runner):
            super().before_train(runner)
        if self._atomic() and is_main_process():
            for folder in {self.out_dir, runner.work_dir}:
                for name in (os.listdir(folder) if osp.isdir(folder) else []):
                    if _PARTIAL.match(name):  # left by a kill during a save
                        os.remove(osp.join(folder, name))
        if self._keep > 0:
            self._drop_old(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # The checkpoint hook's priority (VERY_LOW) puts this after the hooks that
        # add to a checkpoint (curriculum state, the non-finite check).
        checkpoint.setdefault('meta', {})[DIGEST_KEY] = content_digest(checkpoint)

    @contextlib.contextmanager
    def _unused_file_client_quiet(self, runner) -> Iterator[None]:
        notices = _UnusedFileClientNotices()
        if self.file_client_args is None:  # mmengine's FileClient is then never used
            runner.logger.addFilter(notices)
        try:
            yield
        finally:
            runner.logger.removeFilter(notices)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        with self._unused_file_client_quiet(runner):
            super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process() and self._atomic():
            # The parent writes the pointer with open('w'); make it whole.
            atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                         str(self.last_ckpt).encode('utf-8'))
        if self._keep > 0:
            self._drop_old(runner)

    def _drop_old(self, runner) -> None:
        while len(self.keep_ckpt_ids) > self._keep:
            old = self.keep_ckpt_ids.popleft()
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if is_main_process() and self.file_backend.isfile(path):
                self.file_backend.remove(path)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # load_from / resume is the Runner's last load before the loop: what
        # follows (optimizer and scheduler state, the loop) reads no file.
        self._close_loading_scope()
        if self.check_keys == 'off':
            return
        model = unwrap_model(runner.model)
        source = (f'Checkpoint {runner._load_from!r}' if runner._load_from
                  else f'The checkpoint resumed from {runner.work_dir!r}')
        state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) \
            else checkpoint
        try:
            check_state_dict(model, state, source=source, allow_missing=self.allow_missing)
        except RuntimeError as err:
            if self.check_keys == 'error':
                raise
            runner.logger.warning(str(err))
