"""Corpus-level caption scores (BLEU, METEOR, ROUGE_L, CIDEr) on pycocoevalcap.

mmpretrain's ``COCOCaption`` always runs SPICE, which downloads Stanford
CoreNLP at first use and cannot run offline (docs/pitfalls.md, "Caption scoring"). This metric
runs the other pycocoevalcap scorers on the gathered predictions of the whole
split: CIDEr's document frequencies come from the whole corpus, so scores are
never averaged over batches.
"""
import re
import shutil
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.structures import BaseDataElement
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tpc_cma_mm.registry import METRICS

__all__ = ['CaptionMetric', 'score_captions', 'simple_tokenize']

SPICE_REASON = ('SPICE skipped: it needs Stanford CoreNLP models that pycocoevalcap '
                'downloads at first use, and nothing can be downloaded here')
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def simple_tokenize(captions: Mapping[object, Sequence[str]]) -> Dict[object, List[str]]:
    """Java-free stand-in for PTBTokenizer: lower-case words, punctuation dropped."""
    return {key: [' '.join(_WORD.findall(c.lower())) for c in caps]
            for key, caps in captions.items()}


def score_captions(references: Mapping[object, Sequence[str]],
                   predictions: Mapping[object, str],
                   meteor: bool = True,
                   logger=None) -> Tuple[Dict[str, float], Dict[str, str]]:
    """Score one prediction per image against its references.

    Args:
        references: image id -> reference captions (at least one).
        predictions: image id -> generated caption, for the same ids.
        meteor: run METEOR (a Java process; the slowest scorer).
        logger: where the skip messages go (mmengine's current logger).

    Returns:
        ``(scores, skipped)``: pycocoevalcap's keys (``Bleu_1`` .. ``Bleu_4``,
        ``METEOR``, ``ROUGE_L``, ``CIDEr``) -> float, and scorer -> why it
        was skipped (``SPICE`` always; ``METEOR`` and ``PTBTokenizer`` when
        ``java`` is not on the PATH).
    """
    if set(references) != set(predictions):
        raise ValueError(f'References cover {len(references)} images, predictions '
                         f'{len(predictions)}; the image ids must be the same.')
    if not predictions:
        raise ValueError('No captions to score: the evaluation split is empty.')
    logger = logger or MMLogger.get_current_instance()
    ids = list(predictions)
    refs = {i: [str(c) for c in references[i]] for i in ids}
    res = {i: [str(predictions[i])] for i in ids}
    skipped = {'SPICE': SPICE_REASON}
    if shutil.which('java'):
        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({i: [{'caption': c} for c in refs[i]] for i in ids})
        res = tokenizer.tokenize({i: [{'caption': c} for c in res[i]] for i in ids})
    else:
        reason = 'java not found on PATH (install a JRE, e.g. default-jre-headless)'
        skipped['PTBTokenizer'] = reason + '; used a simple Python tokenisation'
        gts, res = simple_tokenize(refs), simple_tokenize(res)
        if meteor:
            skipped['METEOR'] = reason
            meteor = False
    if 'METEOR' not in skipped and not meteor:
        skipped['METEOR'] = 'disabled (meteor=False)'

    scores: Dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores.update({f'Bleu_{n + 1}': float(b) for n, b in enumerate(bleu)})
    if meteor:
        scores['METEOR'] = float(Meteor().compute_score(gts, res)[0])
    scores['ROUGE_L'] = float(Rouge().compute_score(gts, res)[0])
    scores['CIDEr'] = float(Cider().compute_score(gts, res)[0])
    for name, why in skipped.items():
        logger.info(f'Caption scores: {name} skipped: {why}'
                    if name != 'SPICE' else why)
    return scores, skipped


@METRICS.register_module()
class CaptionMetric(BaseMetric):
    """BLEU-1..4, METEOR, ROUGE_L and CIDEr of generated captions.

    Example config::

        test_evaluator = dict(type='CaptionMetric', meteor=True)

    Each data sample must carry ``pred_caption`` (str), ``gt_caption`` (str or
    list of str) and ``img_id``. Samples sharing an ``img_id`` pool their
    references and the first prediction is scored, so both one-item-per-image
    and one-item-per-caption splits work. Results are gathered across ranks
    before scoring. Keys: ``caption/Bleu_1`` ... ``caption/CIDEr``. Scorers
    that cannot run are logged once and listed in ``self.skipped``.

    Args:
        meteor (bool): Run METEOR (needs Java).
        collect_device (str): 'cpu' or 'gpu', for gathering across ranks.
        prefix (str, optional): Key prefix; 'caption' by default.
    """

    default_prefix = 'caption'

    def __init__(self, meteor: bool = True, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.meteor = meteor
        self.skipped: Dict[str, str] = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            if 'pred_caption' not in sample or 'gt_caption' not in sample:
                raise KeyError('CaptionMetric needs pred_caption and gt_caption in each '
                               'data sample (a CaptionDecoder in predict mode gives both).')
            refs = sample['gt_caption']
            refs = [refs] if isinstance(refs, str) else list(refs)
            img_id = sample.get('img_id', len(self.results))
            self.results.append(dict(img_id=int(img_id), pred=str(sample['pred_caption']),
                                     refs=refs))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        references: Dict[int, List[str]] = {}
        predictions: Dict[int, str] = {}
        for r in results:
            predictions.setdefault(r['img_id'], r['pred'])
            references.setdefault(r['img_id'], []).extend(r['refs'])
        scores, self.skipped = score_captions(references, predictions, self.meteor)
        return scores
