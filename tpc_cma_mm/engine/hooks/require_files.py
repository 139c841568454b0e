"""Fail fast, with a useful message, when a config's input file is missing."""
import os.path as osp
from typing import Dict

from mmengine.hooks import Hook

from tpc_cma_mm.registry import HOOKS

__all__ = ['RequireFilesHook']


@HOOKS.register_module()
class RequireFilesHook(Hook):
    """Raise ``FileNotFoundError`` naming the config key of a missing file.

    Reads each top-level config key at run time (so ``--cfg-options
    load_from=PATH`` is honoured) in ``before_run``, i.e. before the Runner
    loads ``load_from``, which on its own fails deep inside mmengine with no
    hint of what the file is or how to make it. Skipped when the run resumes
    (the weights then come from the work dir), and for a key set to None
    (``--cfg-options load_from=None``: the user starts without those weights).

    Example config::

        load_from = 'checkpoints/clip_vit-b16_openai.pth'
        custom_hooks = [dict(
            type='RequireFilesHook',
            files=dict(load_from='OpenAI CLIP ViT-B/16 weights converted by '
                                 'tools/convert_clip_weights.py'))]

    Args:
        files (dict): Top-level config key -> what the file is / how to get it.
    """

    priority = 'VERY_HIGH'

    def __init__(self, files: Dict[str, str]):
        if not isinstance(files, dict) or not files:
            raise ValueError(f'RequireFilesHook.files must be a non-empty dict, got {files!r}')
        self.files = dict(files)

    def before_run(self, runner) -> None:
        if runner.cfg.get('resume', False):
            return
        for key, what in self.files.items():
            path = runner.cfg.get(key)
            if path is None:
                continue
            if not path or not osp.isfile(osp.expanduser(str(path))):
                raise FileNotFoundError(
                    f'Config value {key}={path!r} is not a file ({what}). '
                    f'Pass the right path with --cfg-options {key}=PATH.')
