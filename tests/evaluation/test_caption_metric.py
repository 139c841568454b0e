"""CaptionMetric equals pycocoevalcap's scorers called directly."""
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tpc_cma_mm.evaluation.metrics import caption as caption_module
from tpc_cma_mm.evaluation.metrics import CaptionMetric, simple_tokenize

REFS = {
    1: ['A red circle in the top left.', 'a photo of a RED circle'],
    2: ['an image of a large blue square', 'A big, blue square.'],
    3: ['a picture of a shape in the centre'],
    4: ['a small green star', 'a photo of a green star in the bottom right'],
}
PREDS = {1: 'a red circle', 2: 'a photo of a blue square', 3: 'a picture of a shape',
         4: 'a small green star in the top left'}


def direct_scores(gts, res):
    """Every score but METEOR (Java, slow: computed only where it is compared)."""
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f'Bleu_{i + 1}': b for i, b in enumerate(bleu)}
    out['ROUGE_L'] = Rouge().compute_score(gts, res)[0]
    out['CIDEr'] = Cider().compute_score(gts, res)[0]
    return out


@pytest.fixture(scope='module')
def ptb():
    """References and predictions tokenised by pycocoevalcap's PTBTokenizer, and their
    scores."""
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{'caption': c} for c in v] for k, v in REFS.items()})
    res = tok.tokenize({k: [{'caption': PREDS[k]}] for k in REFS})
    return gts, res, direct_scores(gts, res)


def run_metric(metric):
    # Two "batches"; image 2's references arrive as two one-caption items.
    metric.process(None, [dict(img_id=1, pred_caption=PREDS[1], gt_caption=REFS[1]),
                          dict(img_id=2, pred_caption=PREDS[2], gt_caption=REFS[2][0])])
    metric.process(None, [dict(img_id=2, pred_caption=PREDS[2], gt_caption=REFS[2][1]),
                          dict(img_id=3, pred_caption=PREDS[3], gt_caption=REFS[3]),
                          dict(img_id=4, pred_caption=PREDS[4], gt_caption=REFS[4])])
    return metric.evaluate(size=5)


@pytest.mark.slow  # pycocoevalcap's Java tokenizer and METEOR
def test_metric_equals_pycocoevalcap(ptb):
    gts, res, expected = ptb
    expected = dict(expected, METEOR=Meteor().compute_score(gts, res)[0])
    metric = CaptionMetric()
    scores = run_metric(metric)
    assert set(scores) == {f'caption/{k}' for k in expected}
    for key, value in expected.items():
        assert scores[f'caption/{key}'] == pytest.approx(float(value), abs=1e-12)
    assert 'SPICE' in metric.skipped and 'METEOR' not in metric.skipped
    # Corpus-level CIDEr (document frequencies over all images) is not the
    # mean of per-batch CIDEr.
    halves = [Cider().compute_score({k: gts[k] for k in ids}, {k: res[k] for k in ids})[0]
              for ids in ((1, 2), (3, 4))]
    assert scores['caption/CIDEr'] != pytest.approx(sum(halves) / 2)


def test_without_java_scores_bleu_rouge_cider(monkeypatch, ptb):
    monkeypatch.setattr(caption_module.shutil, 'which', lambda name: None)
    metric = CaptionMetric()
    scores = run_metric(metric)
    assert 'caption/METEOR' not in scores
    assert 'java' in metric.skipped['METEOR'] and 'PTBTokenizer' in metric.skipped
    # On these captions the fallback tokenisation agrees with PTB's.
    expected = ptb[2]
    for key in ('Bleu_1', 'Bleu_4', 'ROUGE_L', 'CIDEr'):
        assert scores[f'caption/{key}'] == pytest.approx(float(expected[key]), abs=1e-12)


def test_simple_tokenize_and_untokenized_scores():
    assert simple_tokenize({0: ['A Red, circle.', "it's  BIG!"]}) == {
        0: ['a red circle', "it's big"]}
    clean = {k: [' '.join(c.lower().replace(',', '').replace('.', '').split()) for c in v]
             for k, v in REFS.items()}
    scores, skipped = caption_module.score_captions(clean, PREDS, meteor=False)
    expected = direct_scores(clean, {k: [PREDS[k]] for k in clean})
    assert scores == pytest.approx({k: float(v) for k, v in expected.items()})
    assert 'disabled' in skipped['METEOR']


def test_mismatched_ids_raise():
    with pytest.raises(ValueError, match='image ids'):
        caption_module.score_captions({1: ['a']}, {2: 'a'})
