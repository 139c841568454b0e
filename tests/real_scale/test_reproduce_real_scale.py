"""tools/reproduce.py's protocol on the real B/16 config (random weights, fabricated files in
the real formats, the smallest budget): every column of the paper's table, each metric
recomputed independently (numpy zero-shot, sklearn k-means/ARI, pycocoevalcap) from the same
checkpoints and data."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.datasets import CIFAR10
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from real_scale.fabricate import write_cifar10, write_coco, write_karpathy
from real_scale.independent import embed_dataset
from tpc_cma_lab.reproduce import reproduce
from tpc_cma_lab.reproduce.variants import C3_NOISE_STD
from tpc_cma_lab.verdicts import C3_PREFIX
from tpc_cma_mm.apis import init_model
from tpc_cma_mm.datasets import load_vocabulary
from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS
from tpc_cma_mm.registry import MODELS

pytestmark = pytest.mark.slow  # the reproduction end to end on fabricated real-scale data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DECODER = osp.join(REPO, 'configs/captioning/caption-decoder_w512-l6_1xb256-10k_coco-text-only.py')
SETTINGS = dict(pretrain_iters=None, finetune_iters=3, seeds=[0], alphas=[0.5], const_alphas=[],
                decoder_iters=1, caption_train=None, caption_test=None,
                c3_noise_std=C3_NOISE_STD)
TEMPLATES = ['a photo of a {}.', 'a blurry photo of a {}.']
SINGLE_LABEL = [[1], [1, 1], [3], [3, 7], [7], [1]]  # image 3 has two categories


def _write_configs(root):
    coco, cifar = str(root / 'coco'), str(root / 'cifar')
    single = root / 'single_label.py'
    single.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/_base_/datasets/coco_single-label.py')!r}]\n"
        "val_cfg = dict(extra_sets=dict(coco_single_label=dict(dataloader=dict(\n"
        f"    batch_size=4, num_workers=0, dataset=dict(data_root={coco!r})))))\n")
    loaders = '\n'.join(
        f"{split}_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, "
        f"dataset=dict(data_root={coco!r}))" for split in ('train', 'val', 'test'))
    decoder = root / 'decoder.py'  # the B/16-scale decoder, batch 4 instead of 256
    decoder.write_text(f"_base_ = [{DECODER!r}]\ntrain_dataloader = dict(batch_size=4)\n")
    method = root / 'b16.py'
    method.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/cma_clip_b16.py')!r}]\n{loaders}\n"
        "val_cfg = dict(extra_sets=dict(cifar10=dict(dataloader=dict(\n"
        f"    batch_size=4, num_workers=0, dataset=dict(data_root={cifar!r})),\n"
        # 2 of the 18 templates: each prompt is a B/16 text-tower pass on the CPU.
        f"    zero_shot=dict(benchmark='cifar10', templates={TEMPLATES!r}))))\n"
        f"reproduce = dict(extra_set_files=[{str(single)!r}], decoder_config={str(decoder)!r})\n"
        f"load_from = {str(root / 'original.pth')!r}\n"
        # Without the optimizer's state: 0.6 instead of 1.8 GB written per fine-tuned run,
        # and no metric reads it.
        "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(save_optimizer=False))\n"
        "env_cfg = dict(dist_cfg=dict(backend='gloo'))\nlog_level = 'WARNING'\n")
    return str(method)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """One reproduction; returns (config, results.json of the report, work dir)."""
    root = tmp_path_factory.mktemp('real_scale')
    # One caption per image: each (image, caption) row is a B/16 image pass on the CPU.
    write_karpathy(str(root / 'coco'), splits=('train', 'restval', 'train', 'val', 'test',
                                               'test', 'test'), captions_per_image=1)
    write_coco(str(root / 'coco'), SINGLE_LABEL, captions_per_image=1)
    write_cifar10(str(root / 'cifar'), per_batch=5)
    config = _write_configs(root)
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, str(root / 'original.pth'))
    with pytest.MonkeyPatch.context() as patch:  # fabricated batches: no md5 sums to match
        patch.setattr(CIFAR10, 'test_list', [[n, None] for n, _ in CIFAR10.test_list])
        patch.setattr(CIFAR10, 'train_list', [[n, None] for n, _ in CIFAR10.train_list])
        deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            reproduce(config, str(root / 'work'), dict(SETTINGS), timing_steps=3,
                      command='test', threads=torch.get_num_threads())
        finally:
            torch.use_deterministic_algorithms(deterministic)
        report = json.loads((root / 'work' / 'report' / 'results.json').read_text())
        yield cfg, report, root


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _posthoc(variant, img, text, pairs_img, pairs_text):
    """The variant's fix in numpy, fitted on the test split's pairs."""
    mean_img, mean_text = pairs_img.mean(0), pairs_text.mean(0)
    if variant == 'posthoc mean-centering' or variant.startswith(C3_PREFIX):
        return _unit(img - mean_img), _unit(text - mean_text)
    if variant == 'posthoc gap shift':
        gap = mean_img - mean_text
        return _unit(img - 0.5 * gap), _unit(text + 0.5 * gap)
    return img, text


def _embeddings(cfg, ckpt, root):
    """The checkpoint's embeddings of every set the report scores, in numpy."""
    model = init_model(cfg, ckpt)

    def text_of(tokens):
        with torch.no_grad():
            return F.normalize(model.encode_text(tokens), dim=-1).double().numpy()

    out = {}
    _, batch, out['test_img'] = embed_dataset(model, cfg.test_dataloader.dataset)
    out['test_text'] = text_of(batch['text_tokens'])
    dataset, _, out['cifar_img'] = embed_dataset(
        model, cfg.val_cfg.extra_sets.cifar10.dataloader.dataset)
    out['cifar_labels'] = np.array([dataset.get_data_info(i)['gt_label']
                                    for i in range(len(dataset))])
    names, _ = load_vocabulary('cifar10')
    out['prototypes'] = _unit(np.stack([
        _unit(text_of(model.tokenizer([t.format(p) for t in TEMPLATES]))).mean(0)
        for _, p in names]))
    single_cfg = Config.fromfile(str(root / 'single_label.py'))
    _, batch, out['pair_img'] = embed_dataset(
        model, single_cfg.val_cfg.extra_sets.coco_single_label.dataloader.dataset)
    out['pair_text'] = text_of(batch['text_tokens'])
    out['pair_ids'] = np.array([s.img_id for s in batch['data_samples']])
    out['pair_classes'] = np.array([int(s.gt_label[0]) for s in batch['data_samples']])
    return out


def _independent(variant, e):
    """Every checked metric of one variant from its checkpoint's embeddings ``e``."""
    def fix(img, text):
        return _posthoc(variant, img, text, e['test_img'], e['test_text'])

    out = {}
    img, text = fix(e['test_img'], e['test_text'])
    out['gap/centroid'] = np.linalg.norm(img.mean(0) - text.mean(0))
    out['gap/mean_paired_cosine'] = np.mean(np.sum(img * text, axis=1))

    cifar_img, prototypes = fix(e['cifar_img'], e['prototypes'])
    ranked = np.argsort(-(cifar_img @ prototypes.T), axis=1)
    for k in (1, 5):
        out[f'zero_shot_cifar10/top{k}'] = 100 * np.mean(
            [label in row[:k] for row, label in zip(ranked, e['cifar_labels'])])

    pair_img, pair_text = fix(e['pair_img'], e['pair_text'])
    _, first = np.unique(e['pair_ids'], return_index=True)
    pooled = np.concatenate([pair_img[first], pair_text])
    by_class = np.concatenate([e['pair_classes'][first], e['pair_classes']])
    by_modality = np.r_[np.zeros(len(first)), np.ones(len(pair_text))]
    scores = {key: [] for key in ('ari_class', 'nmi_class', 'ari_modality', 'nmi_modality')}
    for seed in (0, 1, 2):
        assigned = KMeans(n_clusters=3, n_init=10, random_state=seed).fit_predict(pooled)
        for key, truth in (('class', by_class), ('modality', by_modality)):
            scores[f'ari_{key}'].append(adjusted_rand_score(truth, assigned))
            scores[f'nmi_{key}'].append(normalized_mutual_info_score(truth, assigned))
    out.update({f'coco_single_label/{k}': np.mean(v) for k, v in scores.items()})
    return out


def _cider(captions):
    tokenizer = PTBTokenizer()
    refs = tokenizer.tokenize({c['img_id']: [{'caption': r} for r in c['refs']] for c in captions})
    preds = tokenizer.tokenize({c['img_id']: [{'caption': c['pred']}] for c in captions})
    return Cider().compute_score(refs, preds)[0]


def test_every_metric_equals_an_independent_computation(run):
    cfg, report, root = run
    runs = report['runs']
    assert {e['variant'] for e in runs.values()} == {
        'original', 'posthoc mean-centering', 'posthoc gap shift', 'contrastive fine-tuning',
        'TPC-CMA alpha=0.5', f'{C3_PREFIX} {C3_NOISE_STD:g}'}
    karpathy = json.loads((root / 'coco' / 'annotations' / 'dataset_coco.json').read_text())
    test_refs = {e['cocoid']: sorted(s['raw'] for s in e['sentences'])
                 for e in karpathy['images'] if e['split'] == 'test'}
    embeddings = {}
    for entry in runs.values():
        metrics = entry['metrics']
        assert all(f'gap/{key}' in metrics for key in GAP_KEYS)
        ckpt = str(root / 'original.pth') if entry['work_dir'] is None else osp.join(
            entry['work_dir'], f'iter_{SETTINGS["finetune_iters"]}.pth')
        if ckpt not in embeddings:
            embeddings[ckpt] = _embeddings(cfg, ckpt, root)
        for key, value in _independent(entry['variant'], embeddings[ckpt]).items():
            assert metrics[key] == pytest.approx(value, abs=1e-4), (entry['variant'], key)
        if entry['variant'] == 'posthoc gap shift':  # no decoder-side counterpart
            assert entry['captions_file'] is None and 'caption_image/CIDEr' not in metrics
            continue
        captions = json.loads(open(entry['captions_file']).read())
        for modality in ('image', 'text'):
            assert {c['img_id']: sorted(c['refs']) for c in captions[modality]} == test_refs
            assert metrics[f'caption_{modality}/CIDEr'] == pytest.approx(
                _cider(captions[modality]), abs=1e-9)


def test_report_has_every_column_and_the_zero_shot_change(run):
    _, report, root = run
    summary, change = report['summary'], report['zero_shot']
    before = summary['original']['metrics']['zero_shot_cifar10/top1'][0]
    for name, s in summary.items():
        after = s['metrics']['zero_shot_cifar10/top1'][0]
        assert change[name]['mean'] == pytest.approx(after)  # one benchmark
        assert change[name]['change_points'] == pytest.approx(after - before)
        if before:
            assert change[name]['change_relative'] == pytest.approx(100 * (after / before - 1))
    table = (root / 'work' / 'report' / 'results.md').read_text()
    header = next(line for line in table.splitlines() if line.startswith('| variant'))
    for column in ('centroid', 'zero_shot_cifar10 top-1', 'accuracy axis: mean',
                   'Δ (points)', 'Δ %', 'coco_single_label ari_class',
                   'coco_single_label nmi_class', 'coco_single_label ari_modality',
                   'coco_single_label nmi_modality', 'CIDEr image', 'Δdistribution %'):
        assert f' {column} |' in header, column
    gap_header = table.split('**Every gap key**')[1].splitlines()[2]
    assert all(f' {key} |' in gap_header for key in GAP_KEYS)
    assert 'Training time:' in table and 'Beside the paper' in table
    # R² of the COCO single-label ARI against a gap key, over every run.
    runs = [e['metrics'] for e in report['runs'].values()]
    fit = stats.linregress([m['gap/centroid'] for m in runs],
                           [m['coco_single_label/ari_class'] for m in runs])
    assert report['r_squared']['all runs']['coco_single_label/ari_class']['centroid'] == \
        pytest.approx(fit.rvalue**2, abs=1e-9)


def test_training_estimate_is_measured_steps_times_the_budget(run):
    _, report, root = run
    estimate = report['training_time_estimate']
    records = list((root / 'work').glob('step_time_*.json'))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert len(record['step_seconds']) == 3 and record['device'].startswith('cpu')
    per_step = sum(record['step_seconds'][1:]) / 2  # the first step is a warm-up
    assert estimate['seconds_per_step'] == pytest.approx(per_step)
    # Two fine-tuned runs (contrastive, TPC-CMA) of three iterations each.
    assert estimate['runs'] == 2 and estimate['hours_total'] == pytest.approx(
        2 * 3 * per_step / 3600)
    assert estimate['device'] in (root / 'work' / 'report' / 'results.md').read_text()
