"""Checkpoints this plugin writes carry a digest of their tensors, and every
load through ``safe_torch_load`` checks it: torch reads a flipped bit silently."""
import shutil
import struct
import zipfile

import pytest
import torch
from mmengine.config import Config

from tiny import tiny_model_cfg
from tiny_runner import run_tiny, tiny_runner_cfg
from tpc_cma_mm.apis import convert_clip_checkpoint, init_model
from tpc_cma_mm.models.export import mmpretrain_to_openai
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import CheckpointReadError, safe_torch_load
from tpc_cma_mm.utils.checkpoint import (DIGEST_KEY, content_digest, digest,
                                         mmengine_safe_globals)


def _flip_one_bit_in_a_tensor(path) -> str:
    """Flip the lowest bit of the middle byte of the largest tensor record of a
    torch zip file (stored uncompressed); returns the record's name."""
    with zipfile.ZipFile(path) as archive:
        record = max((i for i in archive.infolist() if '/data/' in i.filename),
                     key=lambda i: i.file_size)
    with open(path, 'r+b') as f:
        f.seek(record.header_offset + 26)  # local header: name and extra-field lengths
        name_length, extra_length = struct.unpack('<HH', f.read(4))
        offset = record.header_offset + 30 + name_length + extra_length + record.file_size // 2
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 1]))
    return record.filename


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    """A checkpoint as the Runner writes it (AtomicCheckpointHook), and a copy of
    it with one bit flipped in a tensor."""
    work = tmp_path_factory.mktemp('digest')
    run_tiny(tiny_runner_cfg(work / 'w', max_iters=3, interval=3))
    good = work / 'w' / 'iter_3.pth'
    bad = work / 'flipped.pth'
    shutil.copy(good, bad)
    _flip_one_bit_in_a_tensor(bad)
    return good, bad


def test_the_runner_records_the_digest_of_its_tensors(written):
    good, _ = written
    checkpoint = safe_torch_load(str(good))
    assert checkpoint['meta'][DIGEST_KEY] == content_digest(checkpoint)
    assert {'state_dict', 'optimizer'} <= set(checkpoint)  # both covered


def test_a_flipped_bit_is_refused_naming_the_file(written, tmp_path):
    good, bad = written
    # torch itself reads the damaged file and returns one changed tensor.
    with mmengine_safe_globals():
        plain = [torch.load(p, weights_only=True) for p in (good, bad)]
    changed = [k for k, v in plain[0]['state_dict'].items()
               if not torch.equal(v, plain[1]['state_dict'][k])]
    changed += [f'optimizer {i}' for i, s in plain[0]['optimizer']['state'].items()
                if any(not torch.equal(v, plain[1]['optimizer']['state'][i][n])
                       for n, v in s.items() if isinstance(v, torch.Tensor))]
    assert len(changed) == 1
    message = r"Checkpoint '.*flipped.pth' is corrupt: its tensors differ"
    with pytest.raises(CheckpointReadError, match=message):
        safe_torch_load(str(bad))
    config = Config(dict(model=tiny_model_cfg(cma_loss=dict(type='CMALoss')),
                         default_scope='tpc_cma_mm'))
    with pytest.raises(CheckpointReadError, match=message):
        init_model(config, str(bad))  # the inferencer's and the tools' loader
    init_model(config, str(good))
    for overrides in (dict(load_from=str(bad), resume=True), dict(load_from=str(bad))):
        with pytest.raises(CheckpointReadError, match=message):
            run_tiny(tiny_runner_cfg(tmp_path / 'resumed', max_iters=4, **overrides))
        assert not list((tmp_path / 'resumed').glob('iter_*.pth'))


def test_a_checkpoint_without_digest_loads_and_says_so(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(digest, 'print_log', lambda message, **kw: logged.append(message))
    state = MODELS.build(tiny_model_cfg()).state_dict()
    path = tmp_path / 'foreign.pth'
    torch.save(dict(state_dict=state), path)
    loaded = safe_torch_load(str(path))
    assert all(torch.equal(loaded['state_dict'][k], v) for k, v in state.items())
    assert len(logged) == 1 and 'foreign.pth records no content digest' in logged[0]


def test_converted_checkpoints_carry_the_digest(tmp_path):
    source = tmp_path / 'openai.pt'
    torch.save(mmpretrain_to_openai(MODELS.build(tiny_model_cfg()).state_dict()), source)
    state_dict, meta, _ = convert_clip_checkpoint(str(source))
    out = tmp_path / 'converted.pth'
    torch.save(dict(state_dict=state_dict, meta=meta), out)  # as the tool writes it
    assert meta[DIGEST_KEY] == content_digest(safe_torch_load(str(out)))
    _flip_one_bit_in_a_tensor(out)
    with pytest.raises(CheckpointReadError, match='converted.pth'):
        safe_torch_load(str(out))
