"""What a run's numbers depend on besides its config: threads, libraries, code, CPU, weights.

Two runs of one config give bit-identical numbers only at the same thread count
with the same libraries and code (docs/results.md, "Reproducing the numbers"),
so every role of a run (the main process, each pool worker, a resumed run's
last job) sets its threads from the one setting recorded with the run
(:func:`set_threads`), caches are keyed by :func:`environment_key` (the code by
the content of the packages' Python files, :func:`code_digest`: a commit that
changes no package file, a docs edit say, keeps the cache), and ``results.json``
records :func:`environment` (the git commit too, as a record, not a key)::

    set_threads(1)
    environment(threads=1, original='work_dirs/reproduce_quick/pretrain/iter_1000.pth')
"""
import functools
import hashlib
import importlib.metadata
import os
import os.path as osp
import platform
import subprocess
from typing import Dict, Optional

import torch

from tpc_cma_mm.apis.fingerprint import digest
from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.utils.checkpoint.digest import DIGEST_KEY, content_digest

__all__ = ['CODE_PACKAGES', 'LIBRARIES', 'checkpoint_digest', 'code_digest', 'code_version',
           'cpu_model', 'environment', 'environment_key', 'library_versions', 'set_threads']

#: The distributions whose versions the numbers depend on (requirements/ pins them).
LIBRARIES = ('torch', 'numpy', 'mmengine', 'mmpretrain', 'Pillow', 'scikit-learn')
#: The packages whose code the numbers depend on (configs are keyed by their own digest).
CODE_PACKAGES = ('tpc_cma_mm', 'tpc_cma_lab')
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
def code_digest(root: str = _REPO) -> str:
    """The content digest of every ``.py`` file of :data:`CODE_PACKAGES` under ``root``,
    hidden folders left out: SHA-256 of each file's bytes by its path relative to ``root``
    (``/``-separated), hashed as sorted JSON (:func:`~tpc_cma_mm.apis.fingerprint.digest`).
    Read once per process, as the git commit was; where the checkout lies does not enter it."""
    files = {}
    for package in CODE_PACKAGES:
        for folder, subfolders, names in os.walk(osp.join(root, package)):
            # tpc_cma_mm/.mim holds mim's links to (installed: copies of) configs/ and
            # tools/: configs are keyed by their own digest, tools are no package code.
            subfolders[:] = [name for name in subfolders if not name.startswith('.')]
            for name in names:
                if name.endswith('.py'):
                    path = osp.join(folder, name)
                    with open(path, 'rb') as f:
                        files[osp.relpath(path, root).replace(os.sep, '/')] = \
                            hashlib.sha256(f.read()).hexdigest()
    if not files:
        raise FileNotFoundError(f'No Python file of {CODE_PACKAGES} under {root}: the code '
                                'the numbers depend on cannot be keyed.')
    return digest(files)


@functools.lru_cache(maxsize=None)
def code_version() -> str:
    """``git <commit>`` (``+dirty`` when tracked files differ from it) of the checkout the
    lab runs from, else ``tpc_cma_mm <package version>``: a record of where numbers were
    made, not part of any key (a docs-only commit changes it)."""
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
    """What cached numbers are keyed by besides their settings: the libraries' versions
    and the code's content (:func:`code_digest`)."""
    return dict(libraries=library_versions(), code=code_digest())


def environment(threads: int, original: Optional[str] = None) -> dict:
    """The record of where numbers were made: ``environment_key`` plus the git commit
    (``commit``, :func:`code_version`), threads, CPU, device and, given ``original``, that
    checkpoint's content digest."""
    device = (torch.cuda.get_device_name(torch.cuda.current_device())
              if torch.cuda.is_available() else 'cpu')
    record = dict(environment_key(), commit=code_version(), threads=threads, cpu=cpu_model(),
                  device=device)
    if original is not None:
        record['original_checkpoint'] = dict(path=original,
                                             content_sha256=checkpoint_digest(original))
    return record
