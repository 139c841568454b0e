import json
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tiny import TINY_IMAGE, TINY_PIPELINE, tiny_model_cfg
from tool_runner import run_tool
from tpc_cma_lab.study import (HELD_OUT_SHAPES, POSTHOC_FIXES, SEEN_SHAPES, Study, StudyJob,
                               finetune_config, interpolate_state_dicts, job_key,
                               pretrain_config, write_study_report)
from tpc_cma_mm.apis import caption_scores, embed_split, init_model
from tpc_cma_mm.datasets import SHAPES
from tpc_cma_mm.evaluation.functional import embedding_suite
from tpc_cma_mm.registry import DATASETS, MODELS

PRETRAIN = 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py'
RESNET = 'configs/clip/clip_resnet-tiny_1xb256-1k_shapes-pretrain.py'
FINETUNE = 'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py'


def _hooks(cfg):
    return [h['type'] for h in cfg.get('custom_hooks', [])]


def test_finetune_variants_change_only_what_they_name():
    base = Config.fromfile(FINETUNE)
    const = finetune_config(base, dict(loss='const', alpha=0.3, iters=150, lr=1e-3, batch=32,
                                       shapes=SEEN_SHAPES))
    assert 'TPCCurriculumHook' not in _hooks(const) and const.model.alpha == 0.3
    assert const.optim_wrapper.optimizer.lr == 1e-3 and const.train_dataloader.batch_size == 32
    assert const.train_dataloader.dataset.shapes == list(SEEN_SHAPES)
    # Half the iterations: every scheduler boundary halves with them.
    assert const.train_cfg.max_iters == 150
    assert [(s['begin'], s['end']) for s in const.param_scheduler] == \
        [(s['begin'] // 2, s['end'] // 2) for s in base.param_scheduler]
    assert const.val_dataloader is None and const.test_dataloader is not None
    tpc = finetune_config(base, dict(loss='tpc', alpha=0.7, iters=300, phases=[0, 0.2, 0.8]))
    hook = tpc.custom_hooks[_hooks(tpc).index('TPCCurriculumHook')]
    assert hook['alpha_target'] == 0.7 and hook['phases'] == (0, 0.2, 0.8)
    plain = finetune_config(base, dict(loss='contrastive', alpha=0.0, iters=300))
    assert plain.model.cma_loss is None and 'TPCCurriculumHook' not in _hooks(plain)
    assert 'TPCCurriculumHook' in _hooks(base) and 'alpha' not in base.model  # base untouched
    with pytest.raises(ValueError, match='loss must be one of'):
        finetune_config(base, dict(loss='cma', alpha=0.1, iters=10))


def test_pretrain_variants():
    base = Config.fromfile(PRETRAIN)
    cfg = pretrain_config(base, dict(iters=200, temperature=0.05, keep_prob=dict(colour=0.9)))
    assert math.isclose(math.exp(cfg.model.logit_scale_init), 20.0)
    assert cfg.train_dataloader.dataset.keep_prob == dict(colour=0.9)
    with pytest.raises(ValueError, match='ResNet model config'):
        pretrain_config(base, dict(iters=10, tower='resnet'))
    resnet = Config.fromfile(RESNET).model
    cfg = pretrain_config(base, dict(iters=10, tower='resnet'), resnet)
    assert cfg.model.vision_backbone == resnet.vision_backbone
    assert cfg.model.text_backbone == base.model.text_backbone
    init_default_scope('tpc_cma_mm')
    model = MODELS.build(cfg.model)
    assert type(model.visual).__name__ == resnet.vision_backbone.type
    assert model.encode_image(torch.zeros(2, 3, 32, 32)).shape == (2, 64)


def test_wise_ft_interpolates_floats_and_refuses_mismatches():
    start = dict(w=torch.zeros(3), steps=torch.tensor(4))
    end = dict(w=torch.tensor([4.0, 8.0, -4.0]), steps=torch.tensor(4))
    mixed = interpolate_state_dicts(start, end, 0.25)
    assert torch.equal(mixed['w'], torch.tensor([1.0, 2.0, -1.0]))
    assert torch.equal(mixed['steps'], torch.tensor(4))
    assert torch.equal(interpolate_state_dicts(start, end, 1.0)['w'], end['w'])
    with pytest.raises(ValueError, match='integer buffer'):
        interpolate_state_dicts(start, dict(end, steps=torch.tensor(5)), 0.5)
    with pytest.raises(KeyError, match='keys differ'):
        interpolate_state_dicts(start, dict(w=end['w']), 0.5)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        interpolate_state_dicts(start, end, 1.5)


def tiny_pipeline():
    return [dict(step) for step in TINY_PIPELINE]


def _tiny(cfg: Config, pretrain: bool) -> Config:
    zero_shot = cfg.model.zero_shot
    cfg.model = Config(dict(model=tiny_model_cfg(zero_shot=zero_shot))).model
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = 16
        loader.dataset.update(num_samples=48 if split != 'train' else 64,
                              image_size=TINY_IMAGE, pipeline=tiny_pipeline())
    if not pretrain:
        cfg.model.cma_loss = dict(type='CMALoss')
    return cfg


@pytest.mark.slow  # trains every kind of study job
def test_study_runs_every_kind_of_job_and_resumes(tmp_path):
    init_default_scope('tpc_cma_mm')
    pre = _tiny(Config.fromfile(PRETRAIN), pretrain=True)
    fine = _tiny(Config.fromfile(FINETUNE), pretrain=False)
    results = str(tmp_path / 'study.json')
    spec = dict(loss='tpc', alpha=0.5, iters=4, seed=0, shapes=SEEN_SHAPES)
    jobs = [StudyJob('pretrain', None, dict(name='p', iters=4, seed=0)),
            StudyJob('finetune', 'p', spec), StudyJob('wise', 'p', dict(spec, coefficient=0.0))]
    Study(pre, fine, str(tmp_path / 'work'), results).run(jobs)
    recorded = json.load(open(results))
    original = recorded['pretrain | None | p']['metrics']
    tuned = recorded[job_key('finetune', 'p', spec)]
    assert len(tuned['train']['alpha']) == 4 and tuned['train']['loss_cma']
    for name in ('shape', 'colour', 'size', 'position'):
        assert 0 <= tuned['metrics'][f'probe/{name}'] <= 100
    # WiSE-FT at coefficient 0 is the original model, metric for metric.
    wise = recorded[job_key('wise', 'p', dict(spec, coefficient=0.0))]['metrics']
    assert wise == pytest.approx(original, abs=1e-6)
    # Held-out and seen zero-shot split the test rows by shape: their weighted mean is the total.
    test_rows = DATASETS.build(dict(fine.test_dataloader.dataset, pipeline=[])).data_list
    seen = sum(row['attr_shape'] in SEEN_SHAPES for row in test_rows) / len(test_rows)
    metrics = tuned['metrics']
    assert metrics['zero_shot/top1'] == pytest.approx(
        seen * metrics['zero_shot_seen/top1'] + (1 - seen) * metrics['zero_shot_held_out/top1'])
    report = open(write_study_report(recorded, str(tmp_path / 'report'), 'cmd')).read()
    rows = {line.split(' | ')[0][2:]: line.split(' | ')[1] for line in report.splitlines()
            if line.startswith('| ') and not line.startswith('| run')}
    assert set(rows) == {'original (p)', 'tpc 0.5, iters=4', 'tpc 0.5, iters=4, WiSE-FT c=0.0'}
    assert rows['tpc 0.5, iters=4, WiSE-FT c=0.0'] == '0.0'  # no centroid change
    assert (tmp_path / 'report' / 'compromise.png').stat().st_size > 0
    # A rerun finds everything recorded and trains nothing.
    Study(pre, fine, str(tmp_path / 'other_work'), results).run(jobs)
    assert json.load(open(results)) == recorded
    assert not (tmp_path / 'other_work').exists()
    with pytest.raises(KeyError, match='run its pretraining job first'):
        Study(pre, fine, str(tmp_path / 'work'), results).run([StudyJob('finetune', 'q', spec)])


def _tiny_study(tmp_path, **kwargs):
    init_default_scope('tpc_cma_mm')
    pre = _tiny(Config.fromfile(PRETRAIN), pretrain=True)
    fine = _tiny(Config.fromfile(FINETUNE), pretrain=False)
    return pre, fine, Study(pre, fine, str(tmp_path / 'work'), str(tmp_path / 'study.json'),
                            **kwargs)


def test_posthoc_entry_is_the_pretrained_model_plus_the_fix(tmp_path):
    pre, _, study = _tiny_study(tmp_path)
    original = dict(name='p', iters=4, seed=0)
    study.run([StudyJob('pretrain', None, original)] + [StudyJob('posthoc', 'p', dict(posthoc=fix))
                                                 for fix in POSTHOC_FIXES])
    cfg = pretrain_config(pre, original)
    model = init_model(cfg, study.results['pretrain | None | p']['checkpoint'])
    test = embed_split(model, Runner.build_dataloader(cfg.test_dataloader), progress=False)
    val_loader = dict(cfg.test_dataloader, dataset=dict(cfg.test_dataloader.dataset, split='val'))
    val = embed_split(model, Runner.build_dataloader(val_loader), progress=False)
    prototypes = model.class_prototypes().cpu()
    for fix in POSTHOC_FIXES:
        entry = study.results[job_key('posthoc', 'p', dict(posthoc=fix))]
        expected = embedding_suite(test['img'], test['text'], test['labels'], test['img_ids'],
                                   prototypes, posthoc=fix)
        assert {k: entry['metrics'][k] for k in expected} == pytest.approx(expected, abs=1e-6)
        assert set(entry['metrics']) == set(study.results['pretrain | None | p']['metrics'])
    # The held-out zero-shot and the shape probe of MeanCentering by hand: both sides
    # centred by the test pairs' means and renormalised.
    metrics = study.results[job_key('posthoc', 'p', dict(posthoc='MeanCentering'))]['metrics']
    mean_img, mean_text = test['img'].double().mean(0), test['text'].double().mean(0)
    img = F.normalize(test['img'].double() - mean_img, dim=-1).float()
    protos = F.normalize(prototypes.double() - mean_text, dim=-1).float()
    names = [SHAPES[i] for i in test['labels'].tolist()]
    rows = torch.tensor([n in HELD_OUT_SHAPES for n in names])
    hits = ((img[rows] @ protos.T).argmax(1) == test['labels'][rows]).double().mean()
    assert metrics['zero_shot_held_out/top1'] == pytest.approx(100 * float(hits))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(
        F.normalize(val['img'].double() - mean_img, dim=-1).numpy(), val['labels'].numpy())
    assert metrics['probe/shape'] == pytest.approx(
        100 * probe.score(img.double().numpy(), test['labels'].numpy()), abs=100 / len(img) + 1e-6)
    # Centring removes (nearly: renormalisation) the centroid gap.
    before = study.results['pretrain | None | p']['metrics']['gap/centroid']
    assert metrics['gap/centroid'] < 0.25 * before
    report = open(write_study_report(study.results, str(tmp_path / 'report'), 'cmd')).read()
    drop = f'| original (p) + MeanCentering | {100 * (1 - metrics["gap/centroid"] / before):.1f} |'
    assert drop in report and '| original (p) + GapShift |' in report


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob('*')
            if p.is_file() and p.parts[len(root.parts)] != 'captioning'}


@pytest.mark.slow  # a study with every kind of job, captioned
def test_captions_are_added_to_recorded_entries_without_training(tmp_path):
    spec = dict(loss='const', alpha=0.5, iters=4, seed=0, shapes=SEEN_SHAPES)
    jobs = [StudyJob('pretrain', None, dict(name='p', iters=4, seed=0)),
            StudyJob('finetune', 'p', spec), StudyJob('wise', 'p', dict(spec, coefficient=0.5))] + [
                StudyJob('posthoc', 'p', dict(posthoc=fix)) for fix in POSTHOC_FIXES]
    pre, fine, study = _tiny_study(tmp_path)
    study.run(jobs)
    before, trained = dict(study.results), _files(tmp_path / 'work')
    protocol = dict(decoder_iters=2, num_train=32, num_test=16)
    _, _, study = _tiny_study(tmp_path, captioning=protocol)
    study.run(jobs)
    assert _files(tmp_path / 'work') == trained  # no checkpoint written or changed
    for key, entry in study.results.items():
        old = {k: v for k, v in entry['metrics'].items() if not k.startswith('caption_')}
        assert old == before[key]['metrics'] and entry['captioning']['protocol'] == protocol
        captioned = entry['spec'].get('posthoc') != 'GapShift'
        assert ('caption_image/CIDEr' in entry['metrics']) == captioned
        assert ('caption_text/CIDEr' in entry['metrics']) == captioned
        assert captioned or 'no decoder-side counterpart' in entry['captioning']['not_captioned']
    # The same numbers as the protocol called directly on each model (centred for C3).
    train = dict(fine.train_dataloader.dataset, pipeline=fine.test_dataloader.dataset.pipeline)
    models = dict(finetune=(finetune_config(fine, spec), job_key('finetune', 'p', spec), False),
                  posthoc=(pretrain_config(pre, dict(name='p', iters=4, seed=0)),
                           'pretrain | None | p', True))
    for kind, (cfg, ckpt_key, center) in models.items():
        model = init_model(cfg, study.results[ckpt_key]['checkpoint'])
        direct = caption_scores(model, train, fine.test_dataloader.dataset,
                                str(tmp_path / f'direct_{kind}'), decoder_iters=2,
                                num_train=32, num_test=16, center=center, meteor=False,
                                progress=False)
        key = ckpt_key if kind == 'finetune' else job_key('posthoc', 'p',
                                                           dict(posthoc='MeanCentering'))
        metrics = study.results[key]['metrics']
        assert study.results[key]['captioning']['center'] == center
        # The study embedded exactly this model's weights and these data sets.
        assert (tmp_path / 'work' / 'captioning' / f'embeds_{direct["cache_key"]}.pth').is_file()
        assert metrics['caption_image/CIDEr'] == pytest.approx(direct['image']['CIDEr'])
        assert metrics['caption_text/CIDEr'] == pytest.approx(direct['text']['CIDEr'])
    # Three sets of weights (the original, shared by MeanCentering; the fine-tune; the mix).
    assert len(list((tmp_path / 'work' / 'captioning').glob('embeds_*.pth'))) == 3
    with pytest.raises(ValueError, match='was captioned with'):
        _tiny_study(tmp_path, captioning=dict(protocol, decoder_iters=3))[2].run(jobs[:1])
    with pytest.raises(ValueError, match='exactly the keys'):
        _tiny_study(tmp_path, captioning=dict(decoder_iters=3))


def test_a_fine_tuning_takes_the_pretrained_tower_whole(tmp_path):
    """A ResNet-tower pretraining fine-tuned from the ViT fine-tuning config: the tower,
    neck and projection are the pretrained model's, not merged into the config's ViT."""
    init_default_scope('tpc_cma_mm')
    pre = pretrain_config(Config.fromfile(PRETRAIN), dict(name='r', iters=4, seed=0,
                                                           tower='resnet'),
                          Config.fromfile(RESNET).model)
    results = tmp_path / 'study.json'
    # Rebuilt from the ResNet config and the spec; a model_cfg recorded beside it (files
    # written before) is only compared.
    results.write_text(json.dumps({'pretrain | None | r': dict(
        kind='pretrain', checkpoint='unused.pth', spec=dict(name='r', iters=4, seed=0,
                                                            tower='resnet'),
        model_cfg=pre.model.to_dict())}))
    study = Study(Config.fromfile(PRETRAIN), Config.fromfile(FINETUNE), str(tmp_path),
                  str(results), Config.fromfile(RESNET).model)
    cfg = study._model_cfg('r', dict(loss='const', alpha=0.5, iters=4, seed=0))
    for key in ('vision_backbone', 'vision_neck', 'projection'):
        assert cfg.model[key].to_dict() == pre.model[key].to_dict(), key
    assert cfg.model.combine == 'convex'  # a spec without 'combine' names the form it ran
    MODELS.build(cfg.model)


def _tampered_results(tmp_path, marker, **entry):
    """A results file whose pretrained entry asks a registry to run ``touch marker``."""
    init_default_scope('tpc_cma_mm')
    spec = dict(name='vit', iters=4, seed=0)
    model = pretrain_config(Config.fromfile(PRETRAIN), spec).model.to_dict()
    model['vision_backbone'] = dict(type='os.system', command=f'touch {marker}')
    results = tmp_path / 'study.json'
    results.write_text(json.dumps({'pretrain | None | vit': dict(
        dict(kind='pretrain', pretrained=None, checkpoint='unused.pth', spec=spec,
             model_cfg=model), **entry)}))
    return str(results)


def test_a_results_file_never_names_code(tmp_path):
    """A tampered model_cfg is refused before any model is built, and so is a spec
    that carries anything but plain values (docs/reliability.md)."""
    marker = tmp_path / 'MARKER'
    results = _tampered_results(tmp_path, marker)
    study = Study(Config.fromfile(PRETRAIN), Config.fromfile(FINETUNE), str(tmp_path / 'w'),
                  results)
    with pytest.raises(ValueError, match=r"differs in \['vision_backbone'\].*never taken"):
        study.run([StudyJob('finetune', 'vit', dict(loss='const', alpha=0.5, iters=4, seed=0))])
    assert not marker.exists() and not (tmp_path / 'w').exists()
    for bad_spec, message in (
            (dict(name='vit', iters=4, seed=0, shapes=[dict(type='os.system')]),
             r"spec\['shapes'\].*not a plain value"),
            (dict(name='vit', iters=4, seed=0, keep_prob=dict(colour='os.system')),
             r"spec\['keep_prob'\].*not a plain value"),
            (dict(name='vit', iters=4, seed=0, model=dict(type='os.system')),
             r"unknown spec keys \['model'\]")):
        results = _tampered_results(tmp_path, marker, spec=bad_spec)
        with pytest.raises(ValueError, match=message):
            Study(Config.fromfile(PRETRAIN), Config.fromfile(FINETUNE), str(tmp_path / 'w'),
                  results)


def test_experiments_tool_refuses_a_tampered_results_file(tmp_path):
    """The attack as a user meets it: ``tools/experiments.py --results`` on a shared file."""
    marker = tmp_path / 'MARKER'
    results = _tampered_results(tmp_path, marker)
    # main(argv) in this process (tests/tool_runner.py): a code path the file smuggled in
    # would run here as in a subprocess, and leave the marker all the same.
    proc = run_tool('tools/experiments.py', 'alphas', '--pretrain-config', PRETRAIN,
                    '--finetune-config', FINETUNE, '--work-dir', tmp_path / 'w',
                    '--results', results)
    assert proc.returncode != 0
    assert "differs in ['vision_backbone']" in proc.stderr
    assert not marker.exists() and not (tmp_path / 'w').exists()


@pytest.mark.parametrize('results', ['results/experiments/study.json', 'results/experiments/pool.json'])
def test_the_shipped_results_files_pass_the_rule(results):
    """Their specs are plain, and every pretrained model rebuilds from the shipped configs."""
    init_default_scope('tpc_cma_mm')
    study = Study(Config.fromfile(PRETRAIN), Config.fromfile(FINETUNE), 'unused', results,
                  Config.fromfile(RESNET).model)
    names = [e['spec']['name'] for e in study.results.values() if e['kind'] == 'pretrain']
    assert names
    for name in names:
        assert study.pretrained(name)[1].type == 'DualEncoder'
