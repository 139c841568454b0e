"""What a run's numbers depend on besides its config: threads, libraries, code, CPU, weights.

Two runs of one config give bit-identical numbers only at the same thread count
with the same libraries and code (docs/results.md, "Reproducing the numbers"),
so every role of a run (the main process, each pool worker, a resumed run's
last job) sets its threads from the one setting recorded with the run
(:func:`set_threads`), caches are keyed by :func:`environment_key`, and
``results.json`` records :func:`environment`::

    set_threads(1)
    environment(threads=1, original='work_dirs/reproduce_quick/pretrain/iter_1000.pth')
"""
import functools
import importlib.metadata
import os.path as osp
import platform
import subprocess
from typing import Dict, Optional

import torch

from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.utils.checkpoint.digest import DIGEST_KEY, content_digest

__all__ = ['LIBRARIES', 'checkpoint_digest', 'code_version', 'cpu_model', 'environment',
           'environment_key', 'library_versions', 'set_threads']

#: The distributions whose versions the numbers depend on (requirements/ pins them).
LIBRARIES = ('torch', 'numpy', 'mmengine', 'mmpretrain', 'Pillow', 'scikit-learn')
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def set_threads(threads: int) -> None:
    """Fix torch's intra-op thread count (a role that never calls this would use torch's
    default, the number of cores, and give other numbers)."""
    if threads < 1:
        raise ValueError(f'threads must be >= 1, got {threads}')
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def library_versions() -> Dict[str, str]:
    return {name: importlib.metadata.version(name) for name in LIBRARIES}


@functools.lru_cache(maxsize=None)
def code_version() -> str:
    """``git <commit>`` (``+dirty`` when tracked files differ from it) of the checkout the
    lab runs from, else ``tpc_cma_mm <package version>``."""
    try:
        commit = subprocess.run(['git', '-C', _REPO, 'rev-parse', 'HEAD'], check=True,
                                capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(['git', '-C', _REPO, 'status', '--porcelain',
                                  '--untracked-files=no'], check=True, capture_output=True,
                                 text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"tpc_cma_mm {importlib.metadata.version('tpc_cma_mm')}"
    return f'git {commit}' + ('+dirty' if changed else '')


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
    except OSError:
        names = []
    return names[0] if names else (platform.processor() or platform.machine())


def checkpoint_digest(path: str) -> str:
    """The content digest of a checkpoint's tensors (tpc_cma_mm/utils/checkpoint/digest.py):
    the one it records, which loading has just verified, else computed."""
    checkpoint = safe_torch_load(path)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    recorded = meta.get(DIGEST_KEY) if isinstance(meta, dict) else None
    return recorded or content_digest(checkpoint)


def environment_key() -> dict:
    """What cached numbers are keyed by besides their settings: libraries and code."""
    return dict(libraries=library_versions(), code=code_version())


def environment(threads: int, original: Optional[str] = None) -> dict:
    """The record of where numbers were made: ``environment_key`` plus threads, CPU,
    device and, given ``original``, that checkpoint's content digest."""
    device = (torch.cuda.get_device_name(torch.cuda.current_device())
              if torch.cuda.is_available() else 'cpu')
    record = dict(environment_key(), threads=threads, cpu=cpu_model(), device=device)
    if original is not None:
        record['original_checkpoint'] = dict(path=original,
                                             content_sha256=checkpoint_digest(original))
    return record
