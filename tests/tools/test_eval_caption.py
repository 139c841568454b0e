"""tools/eval_caption.py end to end on a tiny random CLIP and a tiny decoder."""
import json
import os.path as osp
import subprocess
import sys

import torch
from tiny import tiny_dataset_cfg, tiny_model_cfg

from tpc_cma_mm.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_configs(tmp_path):
    clip = tmp_path / 'tiny_clip.py'
    clip.write_text(f'''default_scope = 'tpc_cma_mm'
custom_imports = dict(imports=['tpc_cma_mm'], allow_failed_imports=False)
model = {tiny_model_cfg()!r}
train_dataloader = dict(batch_size=16, dataset={tiny_dataset_cfg('train', 48)!r})
test_dataloader = dict(batch_size=16, dataset={tiny_dataset_cfg('test', 8)!r})
''')
    decoder = tmp_path / 'tiny_decoder.py'
    base = osp.join(REPO, 'configs/captioning/caption-decoder_tiny_1xb128-1k_text-only.py')
    decoder.write_text(f'''_base_ = [{base!r}]
model = dict(width=32, num_layers=1, num_heads=2, prefix_length=2)
train_dataloader = dict(batch_size=16)
''')
    return str(clip), str(decoder)


def test_eval_caption_end_to_end(tmp_path):
    clip_cfg, decoder_cfg = write_configs(tmp_path)
    torch.manual_seed(0)
    ckpt = tmp_path / 'clip.pth'
    torch.save(dict(state_dict=MODELS.build(tiny_model_cfg()).state_dict()), ckpt)
    out = tmp_path / 'out'
    result = subprocess.run(
        [sys.executable, 'tools/eval_caption.py', clip_cfg, str(ckpt), '--out', str(out),
         '--decoder-config', decoder_cfg, '--decoder-iters', '6', '--num-train', '40',
         '--num-test', '8', '--no-meteor'],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((out / 'caption_scores.json').read_text())
    for modality in ('image', 'text'):
        assert {'Bleu_1', 'Bleu_4', 'ROUGE_L', 'CIDEr'} <= scores[modality].keys()
        assert all(v >= 0 for v in scores[modality].values())
    assert 'SPICE' in scores['skipped'] and 'METEOR' in scores['skipped']
    assert scores['num_test_images'] == 8 and scores['num_train_captions'] == 40
    assert scores['decoder']['iters'] == 6
    captions = json.loads((out / 'captions.json').read_text())
    assert len(captions['image']) == len(captions['text']) == 8
    assert all(isinstance(c['pred'], str) and c['refs'] for c in captions['image'])
    png = (out / 'caption_samples.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    assert osp.isfile(scores['cache_file'])
