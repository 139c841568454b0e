"""The reproduction's modes and its variants, as data every run is derived from."""
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Union

from tpc_cma_mm.apis.captioning import POSTHOC_CAPTIONING
from ..target_report import GAP_TARGETS
from ..verdicts import C3_PREFIX, CONVEX_TPC, PLAIN_FINETUNING

__all__ = ['GAP_TARGETS', 'MODES', 'TARGET_TOWERS', 'TINY_METHOD', 'TINY_PRETRAIN', 'Variant',
           'variants']

TINY_PRETRAIN = 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py'
TINY_METHOD = 'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py'
# Captioning options of a variant scored on its own embeddings.
AS_IS = POSTHOC_CAPTIONING[None]
# C3's noise on the decoder's training embeddings, chosen on the val split of the
# generated data (docs/captioning.md, "C3 noise").
C3_NOISE_STD = 0.1
# The towers the gap-target rows run on besides the method config's own, each a method
# config in target mode and its pretraining config (docs/method.md, "Gap targets"). The
# ConvNeXt is the fastest of the tiny non-ViT towers on CPU.
TARGET_TOWERS = dict(ConvNeXt=dict(
    config='configs/tpc_cma/tpc-cma-target-c0.5_convnext-tiny_1xb256-300i_shapes.py',
    pretrain='configs/clip/clip_convnext-tiny_1xb256-1k_shapes-pretrain.py'))
# The curriculum of a gap-target row: the target configs' (configs/tpc_cma/
# tpc-cma-target-c0.5_vit-tiny-p8_1xb256-300i_shapes.py) phases and ramp, which leave the
# controller half the budget to steer.
TARGET_CURRICULUM = dict(phases=[0.1, 0.5, 0.4], ramp='cosine')
# The quick mode trains the full mode's models (the same pretraining and fine-tuning
# budgets, seed 0), so its rows are a subset of the full mode's; it saves seeds,
# alphas, gap targets and the captioning protocol, and leaves out the convex form (shown
# beside the magnitude verdicts, not judged), whose run would take it past 10 minutes on
# 2 cores. Its earlier 400-iteration pretraining gave a
# model with ARI vs class 0.01, too weak for any clustering verdict (docs/results.md).
MODES = dict(
    quick=dict(pretrain_iters=1000, finetune_iters=300, seeds=[0], alphas=[0.05, 0.5],
               const_alphas=[0.5], decoder_iters=300, caption_train=3000, caption_test=300,
               c3_noise_std=C3_NOISE_STD, convex_alphas=[], gap_targets=[0.5],
               target_towers=['ConvNeXt']),
    full=dict(pretrain_iters=1000, finetune_iters=300, seeds=[0, 1, 2],
              alphas=[0.05, 0.1, 0.3, 0.5, 1.0], const_alphas=[0.05, 0.5],
              decoder_iters=1000, caption_train=None, caption_test=None,
              c3_noise_std=C3_NOISE_STD, convex_alphas=[0.5], gap_targets=[0.25, 0.5, 0.75],
              target_towers=['ConvNeXt']))


@dataclass(frozen=True)
class Variant:
    """One row of the report: the method config fine-tuned with ``options`` and
    ``curriculum`` replaced (:class:`~tpc_cma_lab.engine.Run`'s fields), or with
    ``trained=False`` the original model as it is; scored after the post-hoc fix
    ``posthoc`` and captioned with the decoder options ``captioning`` (None: not
    captioned). ``tower`` (None: the method config's) names the ``TARGET_TOWERS`` entry a row
    of the gap-target section runs on; ``gap_target``: the centroid reduction it asks for."""
    name: str
    trained: bool
    alpha_target: float = 0.0
    options: Mapping[str, Any] = field(default_factory=dict)
    curriculum: Optional[Mapping[str, Any]] = field(default_factory=dict)
    posthoc: Union[None, str, Mapping[str, Any]] = None
    captioning: Optional[Mapping[str, Any]] = field(default_factory=lambda: dict(AS_IS))
    tower: Optional[str] = None
    gap_target: Optional[float] = None

    @property
    def section(self) -> str:
        """The report's section: the paper's claims (``'main'``) or :data:`GAP_TARGETS`."""
        return GAP_TARGETS if self.tower is not None or self.gap_target is not None else 'main'


def _target_rows(settings: dict) -> list:
    """The gap-target section: each tower's original (scored, not captioned) and its runs
    asked for each of ``settings['gap_targets']`` of the centroid gap."""
    rows = []
    for tower in [None] + list(settings.get('target_towers') or ()):
        prefix = '' if tower is None else f'{tower}: '
        if tower is not None:
            rows.append(Variant(f'{prefix}original', trained=False, captioning=None, tower=tower))
        rows += [Variant(f'{prefix}{GAP_TARGETS} centroid {100 * r:g} %', trained=True,
                         curriculum=dict(TARGET_CURRICULUM,
                                         target=dict(key='centroid', reduction=r)),
                         captioning=None, tower=tower, gap_target=r)
                 for r in settings.get('gap_targets') or ()]
    return rows


def variants(settings: dict) -> Dict[str, Variant]:
    """Every variant of the reproduction with ``settings`` (``alphas``, ``const_alphas``,
    ``c3_noise_std``, ``convex_alphas``, ``gap_targets``, ``target_towers``), by name."""
    centred = POSTHOC_CAPTIONING['MeanCentering']
    # C3 proper also corrupts the decoder's training embeddings with noise
    # (docs/captioning.md).
    noise = settings['c3_noise_std']
    rows = [Variant('original', trained=False),
            Variant('posthoc mean-centering', trained=False, posthoc='MeanCentering',
                    captioning=centred),
            Variant(f'{C3_PREFIX} {noise:g}', trained=False, posthoc='MeanCentering',
                    captioning=dict(centred, noise_std=noise)),
            Variant('posthoc gap shift', trained=False, posthoc=dict(type='GapShift', lam=0.5),
                    captioning=POSTHOC_CAPTIONING['GapShift']),
            Variant(PLAIN_FINETUNING, trained=True, options={'model.cma_loss': None},
                    curriculum=None)]
    rows += [Variant(f'CMA const alpha={alpha}', trained=True, alpha_target=alpha,
                     options={'model.alpha': alpha}, curriculum=None)
             for alpha in settings['const_alphas']]
    rows += [Variant(f'TPC-CMA alpha={alpha}', trained=True, alpha_target=alpha,
                     curriculum=dict(alpha_target=alpha)) for alpha in settings['alphas']]
    rows += [Variant(CONVEX_TPC.format(alpha), trained=True, alpha_target=alpha,
                     options={'model.combine': 'convex'}, curriculum=dict(alpha_target=alpha))
             for alpha in settings.get('convex_alphas') or ()]
    rows += _target_rows(settings)
    return {row.name: row for row in rows}
