"""What the reproduction's cached runs depend on, and the refusal to mix other ones in.

A work dir caches checkpoints, embeddings and ``results.json``; all of them
depend on the protocol: the iteration and captioning settings *and* the
content of both configs (or the original checkpoint's bytes with
``--no-pretrain``), the thread count every role runs at, the libraries'
versions and the code's (``tpc_cma_lab.engine.environment_key``).
``protocol.json`` in the work dir records it; a run with another protocol is
refused before anything is reused.
"""
import json
import os.path as osp
from typing import Optional

from mmengine.config import Config

from tpc_cma_mm.utils.atomic_io import atomic_write
from tpc_cma_mm.apis.fingerprint import checkpoint_id, config_digest, digest
from tpc_cma_mm.apis.outputs import json_bytes, read_json
from .benchmarks import extra_set_files

__all__ = ['PROTOCOL_KEYS', 'check_cache', 'check_work_dir', 'fingerprints', 'protocol']

# The settings one run's numbers depend on; a cached run is reused only if they match.
# ``libraries`` and ``code`` are the main process's environment_key, read once so that
# every job of a reproduction records the same.
PROTOCOL_KEYS = ('pretrain_iters', 'finetune_iters', 'decoder_iters', 'caption_train',
                 'caption_test', 'config', 'original', 'towers', 'threads', 'libraries', 'code')


def fingerprints(config: Config, pretrain_config: Optional[Config],
                 original_checkpoint: Optional[str], towers: Optional[dict] = None) -> dict:
    """``config``: the method config's content digest (with its ``reproduce.extra_set_files``'
    content); ``original``: the pretraining config's, or the original checkpoint's bytes with
    ``--no-pretrain``; ``towers``: each gap-target tower's method and pretraining configs'
    (``towers``: name -> ``dict(config=path, pretrain=path)``)."""
    original = (f'config {config_digest(pretrain_config)}' if pretrain_config is not None
                else f'checkpoint {checkpoint_id(original_checkpoint)}')
    files = extra_set_files(config)
    content = config_digest(config) if not files else digest(dict(
        config=config_digest(config), extra_set_files={p: config_digest(Config.fromfile(p))
                                                       for p in files}))
    tower_digests = {name: {role: config_digest(Config.fromfile(path)) for role, path in
                            sorted(paths.items())} for name, paths in sorted((towers or {}).items())}
    return dict(config=content, original=original, towers=tower_digests)


def protocol(settings: dict) -> dict:
    return {key: settings.get(key) for key in PROTOCOL_KEYS}


def check_cache(results: dict, settings: dict, results_file: str) -> None:
    """Refuse to mix cached runs made with other settings into this report."""
    stale = sorted({json.dumps(e.get('protocol')) for e in results.values()
                    if e.get('protocol') != protocol(settings)})
    if stale:
        raise ValueError(
            f'{results_file} holds runs made with other settings ({", ".join(stale)}) than '
            f'this one ({json.dumps(protocol(settings))}). Give another --work-dir, or '
            'the same settings and configs to resume that reproduction.')


def check_work_dir(work_dir: str, settings: dict) -> None:
    """Record the protocol in ``work_dir/protocol.json``; refuse a work dir of another one."""
    path = osp.join(work_dir, 'protocol.json')
    if osp.isfile(path):
        recorded = read_json(path, 'protocol record')
        if recorded != protocol(settings):
            raise ValueError(
                f'{work_dir} caches a reproduction with another protocol ({recorded}) '
                f'than this one ({protocol(settings)}): its checkpoints and embeddings '
                'would give the old numbers. Give another --work-dir, or the same '
                'settings and configs to resume it.')
    else:
        atomic_write(path, json_bytes(protocol(settings)))
