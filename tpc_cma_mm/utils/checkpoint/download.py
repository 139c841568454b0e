"""Download a checkpoint once per URL into torch's hub cache.

mmengine (through ``torch.hub.load_state_dict_from_url``) caches a download
under its file name, so two URLs that end in the same name share one file: the
second gets the first one's weights. Here the cache is keyed by the whole URL.
"""
import errno
import hashlib
import os
import os.path as osp
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info

from ..atomic_io import disk_full_error

__all__ = ['cached_download', 'url_cache_path']


def url_cache_path(url: str) -> str:
    """Where ``url``'s file lives in the cache:
    ``<torch hub>/checkpoints/by_url/<sha256 of the URL, 16 hex>/<file name>``."""
    digest = hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]
    name = osp.basename(urlparse(url).path) or 'checkpoint.pth'
    return osp.join(torch.hub.get_dir(), 'checkpoints', 'by_url', digest, name)


def _download(url: str, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    # Writes a temporary file and renames it: a cut download leaves no file.
    try:
        torch.hub.download_url_to_file(url, path, progress=False)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise disk_full_error(path) from err


def cached_download(url: str) -> str:
    """The local path of ``url``'s file, downloaded first if it is not cached.

    In a distributed run rank 0 downloads while the others wait, as mmengine
    does; a rank on another node that still lacks the file downloads it too.
    """
    path = url_cache_path(url)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(path):
        _download(url, path)
    if world_size > 1:
        torch.distributed.barrier()
        if not osp.isfile(path):
            _download(url, path)
    return path
