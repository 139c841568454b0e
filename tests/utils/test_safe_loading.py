"""The safe-loading scope: mmengine untouched outside it; every scheme weights-only inside,
URL and model-zoo schemes included (downloads cached by URL)."""
import os
import shutil

import numpy as np
import pytest
import torch
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from tpc_cma_mm.utils import UnsafeCheckpointError, safe_loading, safe_torch_load
from tpc_cma_mm.utils.checkpoint import url_cache_path

load = CheckpointLoader.load_checkpoint


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    return tmp_path


def _save(path, **state):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict={k: torch.tensor(v) for k, v in state.items()}), path)
    return path


def test_import_and_scope_leave_mmengine_loaders_alone(loaders_intact):
    """Importing the plugin (done by conftest) replaces nothing; the scope restores all."""
    assert loaders_intact()
    assert CheckpointLoader._get_checkpoint_loader('torchvision://resnet18') is \
        mmengine_checkpoint.load_from_torchvision
    with safe_loading():
        assert not loaders_intact()
        with safe_loading():  # nested: the inner exit keeps the outer scope
            pass
        assert CheckpointLoader._get_checkpoint_loader('x.pth').__name__ == \
            'load_from_safe_local'
    assert loaders_intact()
    with pytest.raises(KeyError), safe_loading():
        raise KeyError('an error in the block')
    assert loaders_intact()


def test_scheme_registered_inside_the_scope_is_kept(loaders_intact):
    def load_from_mine(filename, map_location=None):
        return 'mine'

    try:
        with safe_loading():
            CheckpointLoader.register_scheme('mine://', load_from_mine)
        assert load('mine://x') == 'mine'
        assert loaders_intact() is False  # only because of ours
        del CheckpointLoader._schemes['mine://']
        assert loaders_intact()
    finally:
        CheckpointLoader._schemes.pop('mine://', None)


def test_allow_list_is_scoped_to_our_loads(tmp_path, real_ckpt):
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([np.ndarray])  # a user's own entry
    try:
        safe_torch_load(real_ckpt)
        assert set(torch.serialization.get_safe_globals()) == set(before) | {np.ndarray}
        with pytest.raises(Exception, match='HistoryBuffer'):  # outside: torch's default
            torch.load(real_ckpt, weights_only=True)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)


@pytest.fixture
def fake_downloads(monkeypatch):
    """``url -> local file`` served by a stand-in for ``torch.hub.download_url_to_file``."""
    served, calls = {}, []

    def download(url, dst, progress=True):
        calls.append(url)
        shutil.copyfile(served[url], dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    return served, calls


def test_http_downloads_are_cached_by_url(hub, fake_downloads, touch):
    served, calls = fake_downloads
    one, two = 'https://a.example/x/model.pth', 'http://b.example/y/model.pth'
    served[one] = _save(hub / 'one' / 'model.pth', w=1.0)
    served[two] = _save(hub / 'two' / 'model.pth', w=2.0)
    with safe_loading():
        assert float(load(one)['state_dict']['w']) == 1.0
        assert float(load(two)['state_dict']['w']) == 2.0  # same name, its own file
        assert float(load(one)['state_dict']['w']) == 1.0
    assert calls == [one, two]  # the second load of one came from the cache
    assert os.path.isfile(url_cache_path(one)) and url_cache_path(one) != url_cache_path(two)
    evil_url = 'https://c.example/model.pth'
    served[evil_url] = hub / 'evil.pth'
    torch.save(dict(payload=touch(hub / 'MARKER')), served[evil_url])
    with pytest.raises(UnsafeCheckpointError, match=f'posix.system.*from {evil_url}'), \
            safe_loading():
        load(evil_url)
    assert not (hub / 'MARKER').exists()


def test_zoo_schemes_download_then_load_weights_only(hub, monkeypatch, touch, loaders_intact):
    """torchvision:// / mmcls:// / open-mmlab:// resolve with mmengine's tables (here
    file:// URLs, downloaded for real by torch.hub), then load weights-only."""
    clean = _save(hub / 'src' / 'resnet.pth', **{'backbone.w': 3.0})
    evil = hub / 'src2' / 'resnet.pth'
    evil.parent.mkdir()
    torch.save(dict(payload=touch(hub / 'MARKER')), evil)
    urls = dict(clean=clean.as_uri(), evil=evil.as_uri())
    monkeypatch.setattr(mmengine_checkpoint, 'get_torchvision_models', lambda: urls)
    monkeypatch.setattr(mmengine_checkpoint, 'get_mmcls_models', lambda: urls)
    monkeypatch.setattr(mmengine_checkpoint, 'get_external_models',
                        lambda: dict(new='zoo/resnet.pth'))
    monkeypatch.setattr(mmengine_checkpoint, 'get_deprecated_model_names', lambda: dict(old='new'))
    monkeypatch.setattr(mmengine_checkpoint, '_get_mmengine_home', lambda: str(hub / 'home'))
    _save(hub / 'home' / 'zoo' / 'resnet.pth', w=4.0)
    with safe_loading():
        assert float(load('torchvision://clean')['state_dict']['backbone.w']) == 3.0
        assert float(load('mmcls://clean')['state_dict']['w']) == 3.0  # mmcls drops 'backbone.'
        assert float(load('open-mmlab://old')['state_dict']['w']) == 4.0  # deprecated name
        assert os.path.isfile(url_cache_path(urls['clean']))
        with pytest.raises(UnsafeCheckpointError,
                           match=f'posix.system.*from {urls["evil"]} for torchvision://evil'):
            load('torchvision://evil')
        with pytest.raises(ValueError, match="no model 'cleen'.*did you mean clean"):
            load('torchvision://cleen')
    assert not (hub / 'MARKER').exists()
    assert loaders_intact()


def test_env_override_is_refused_before_downloading(hub, fake_downloads, monkeypatch):
    served, calls = fake_downloads
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'), \
            safe_loading():
        load('https://a.example/model.pth')
    assert calls == []


@pytest.mark.parametrize('rank', [0, 1])
def test_distributed_download_rank_zero_first(rank, hub, fake_downloads, monkeypatch):
    """Rank 0 downloads before the barrier; a rank that still lacks the file after it
    (another node) downloads it too; a cached file is never fetched again."""
    from tpc_cma_mm.utils.checkpoint import download
    served, calls = fake_downloads
    url = 'https://a.example/model.pth'
    served[url] = _save(hub / 'src' / 'model.pth', w=1.0)
    events = []
    monkeypatch.setattr(download, 'get_dist_info', lambda: (rank, 2))
    monkeypatch.setattr(torch.distributed, 'barrier', lambda: events.append(list(calls)))
    assert download.cached_download(url) == url_cache_path(url)
    assert events == [[url] if rank == 0 else []] and calls == [url]
    download.cached_download(url)
    assert calls == [url]
