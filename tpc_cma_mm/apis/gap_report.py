"""Modality-gap report of one model, with the post-hoc baselines beside it.

Embeds a split once, then scores the model, the model + mean-centering and
the model + Liang et al.'s shift along the gap vector on every embedding metric
(gap keys, joint clustering, retrieval, zero-shot)::

    from tpc_cma_mm.apis import gap_report, init_model, write_gap_report
    model = init_model(config, checkpoint)
    report, files = gap_report(model, Runner.build_dataloader(cfg.test_dataloader))
    write_gap_report(report, files, 'work_dirs/gap_report')

Besides the figures, ``projector/`` holds TensorBoard projector data of both
clouds (``tensorboard --logdir work_dirs/gap_report/projector``, PROJECTOR tab):
``tpc_cma_mm.apis.projector``.
"""
import os.path as osp
from typing import Dict, Sequence, Tuple

from tpc_cma_mm.evaluation.functional import build_posthoc, embedding_suite, gap_reduction
from .embed import embed_split
from .outputs import json_bytes, write_outputs
from .projector import projector_files

__all__ = ['gap_report', 'write_gap_report']


def _gaps(metrics: dict) -> dict:
    return {k[len('gap/'):]: v for k, v in metrics.items() if k.startswith('gap/')}


def gap_report(model, dataloader, shift_lambda: float = 0.5,
               clustering_seeds: Sequence[int] = (0, 1, 2),
               max_plot_points: int = 2000,
               projector_pairs: int = 1000) -> Tuple[dict, Dict[str, bytes]]:
    """The report (every number per variant, % reduction of each gap key against the
    original model) and its files as ``relative path -> bytes``: the figures and,
    unless ``projector_pairs`` is 0, the projector data of the first
    ``projector_pairs`` pairs (their distinct images and every caption)."""
    embeds = embed_split(model, dataloader, keep_images=projector_pairs, desc='embed split')
    classes = dataloader.dataset.metainfo.get('classes')
    prototypes = model.class_prototypes().cpu() if model.zero_shot else None
    transforms = {'original': None, 'mean_centering': build_posthoc('MeanCentering'),
                  f'gap_shift_{shift_lambda:g}': build_posthoc(
                      dict(type='GapShift', lam=shift_lambda))}
    variants = {name: embedding_suite(embeds['img'], embeds['text'], embeds['labels'],
                                      embeds['img_ids'], prototypes, transform,
                                      len(classes) if classes else None, clustering_seeds)
                for name, transform in transforms.items()}
    report = dict(
        num_pairs=len(embeds['img']), num_images=int(embeds['img_ids'].unique().numel()),
        variants=variants,
        gap_reduction_pct={name: gap_reduction(_gaps(variants['original']), _gaps(metrics))
                           for name, metrics in variants.items() if name != 'original'})
    # Imported here: matplotlib loads when a report draws, not with tpc_cma_mm.apis.
    from .figures.gap import decomposition_figure, projection_figure
    figures = {
        'gap_decomposition.png': decomposition_figure(variants),
        'projection.png': projection_figure(
            embeds, {k: transforms[k] for k in ('original', 'mean_centering')}, classes,
            max_plot_points)}
    if projector_pairs:
        # The kept images are in the pipeline's order; the preprocessor's to_rgb says which.
        bgr = model.data_preprocessor._channel_conversion
        figures.update(projector_files(embeds, rgb_images=not bgr, classes=classes))
    return report, figures


def write_gap_report(report: dict, figures: Dict[str, bytes], out_dir: str,
                     overwrite: bool = False) -> None:
    """``out_dir/gap_report.json`` and the other files, refusing other existing content."""
    files = {osp.join(out_dir, 'gap_report.json'): json_bytes(report)}
    files.update({osp.join(out_dir, name): data for name, data in figures.items()})
    write_outputs(files, overwrite)
