"""tools/test.py scores val_cfg's extra sets too; --out dumps predictions as .npz (no pickle)."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tiny import tiny_dataset_cfg, tiny_model_cfg
from tool_runner import load_tool, run_tool
from tpc_cma_mm.apis import embed_split, npz_bytes
from tpc_cma_mm.apis.runner import score_extra_sets_in_test
from tpc_cma_mm.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _config(path, extra_sets=True):
    loader = dict(batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=tiny_dataset_cfg('val', 12))
    extra = dict(shapes=dict(dataloader=dict(loader, dataset=tiny_dataset_cfg('test', 10)),
                             evaluator=dict(type='ZeroShotAccuracy', topk=(1, ),
                                            prefix='zero_shot_shapes'),
                             zero_shot=dict(templates=['a {}.'])))
    cfg = dict(_base_=[osp.join(REPO, 'configs/_base_/default_runtime.py')],
               model=tiny_model_cfg(), test_dataloader=loader, val_dataloader=loader,
               test_evaluator=[dict(type='CrossModalRetrieval', topk=(1, ))],
               val_evaluator=[dict(type='CrossModalRetrieval', topk=(1, ))],
               val_cfg=dict(type='MultiValLoop', extra_sets=extra if extra_sets else None),
               test_cfg=dict(type='TestLoop'), randomness=dict(seed=0))
    Config(cfg).dump(str(path))
    return str(path)


def test_extra_sets_move_into_the_test_loop_unless_it_names_its_own(tmp_path):
    cfg = Config.fromfile(_config(tmp_path / 'a.py'))
    assert score_extra_sets_in_test(cfg) == ['shapes']
    assert cfg.test_cfg.type == 'MultiTestLoop'
    assert cfg.test_cfg.extra_sets == cfg.val_cfg.extra_sets
    own = Config.fromfile(_config(tmp_path / 'b.py'))
    own.test_cfg = dict(type='MultiTestLoop', extra_sets=dict())
    assert score_extra_sets_in_test(own) == [] and own.test_cfg.extra_sets == {}
    other = Config.fromfile(_config(tmp_path / 'c.py'))
    other.test_cfg = dict(type='SomeOtherLoop')
    with pytest.raises(ValueError, match='--no-extra-sets'):
        score_extra_sets_in_test(other)


def test_out_suffix_must_match_what_is_dumped():
    tool = load_tool('tools/test.py')
    with pytest.raises(SystemExit):
        tool.parse_args(['c.py', 'x.pth', '--out', 'results.pkl'])  # never a pickle
    with pytest.raises(SystemExit):
        tool.parse_args(['c.py', 'x.pth', '--out', 'm.json'])  # predictions are .npz
    assert tool.parse_args(['c.py', 'x.pth', '--out', 'm.json', '--out-item', 'metrics'])


def test_npz_bytes_are_reproducible_and_load_without_pickle():
    arrays = dict(a=np.arange(6.0).reshape(2, 3), b=np.array([3, 4]))
    assert npz_bytes(arrays) == npz_bytes(arrays)
    with pytest.raises(TypeError, match='pickle'):
        npz_bytes(dict(bad=np.array([{'x': 1}], dtype=object)))


@pytest.mark.slow
def test_test_tool_scores_extra_sets_and_dumps_embeddings(tmp_path):
    config = _config(tmp_path / 'tiny.py')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    ckpt = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'preds.npz'
    # main(argv) in this process (tests/tool_runner.py): a subprocess paid the torch +
    # mmpretrain import for each of the two runs and proved nothing more.
    result = run_tool('tools/test.py', config, ckpt, '--work-dir', tmp_path / 'eval',
                      '--out', out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val_cfg's extra sets ['shapes']" in result.stdout
    logged, = glob.glob(str(tmp_path / 'eval' / '*' / '*.json'))
    with open(logged) as f:
        metrics = json.loads(f.readline())
    assert {'retrieval/i2t_R1', 'zero_shot_shapes/top1',
            'zero_shot_shapes/mean_per_class_recall'} <= set(metrics)
    with np.load(out) as dump:  # allow_pickle is False by default
        arrays = dict(dump)
    want = embed_split(model, tiny_dataset_cfg('val', 12), progress=False)
    assert set(arrays) == {'img_embeds', 'text_embeds', 'img_id', 'gt_label'}
    np.testing.assert_allclose(arrays['img_embeds'], want['img'].numpy(), atol=1e-6)
    np.testing.assert_allclose(arrays['text_embeds'], want['text'].numpy(), atol=1e-6)
    assert arrays['img_id'].tolist() == want['img_ids'].tolist()
    assert arrays['gt_label'].tolist() == want['labels'].tolist()
    # The same run again writes the same bytes: no --overwrite needed.
    again = run_tool('tools/test.py', config, ckpt, '--work-dir', tmp_path / 'eval',
                     '--out', out)
    assert again.returncode == 0, again.stderr[-3000:]
