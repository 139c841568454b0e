"""Validation and test loops over the main set and extra sets, each with its own metric prefix."""
from typing import Dict, Optional

from mmengine.runner import TestLoop, ValLoop

from tpc_cma_mm.registry import LOOPS
from .extra_sets import ExtraSets

__all__ = ['MultiTestLoop', 'MultiValLoop']


@LOOPS.register_module()
class MultiValLoop(ValLoop):
    """``ValLoop`` on ``val_dataloader``, then on every set of ``extra_sets``.

    Each extra set has a dataloader, an evaluator whose metrics carry the set's
    own prefix, and optionally ``zero_shot`` prompts: the model then classifies
    into the set's ``metainfo['classes']`` in label order (names matched with a
    shipped vocabulary, see ``tpc_cma_mm.datasets.zero_shot_classes``) and its
    previous zero-shot classes are restored afterwards. The metrics of all sets
    are logged together, so checkpoints' ``save_best`` and the curves see them
    all. The loop keeps no state across calls (nothing to resume); dataloaders
    get the Runner's distributed samplers and evaluators gather across ranks.
    Per-iteration hooks run for the main set only. ``tools/test.py`` scores the
    same extra sets with :class:`MultiTestLoop`.

    Example config (COCO retrieval and gaps, plus CIFAR-10 zero-shot)::

        val_cfg = dict(type='MultiValLoop', extra_sets=dict(cifar10=dict(
            dataloader=dict(batch_size=256, num_workers=8,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dict(type='SafeCIFAR10', data_root='data/cifar10',
                                         split='test', pipeline=[...])),
            evaluator=dict(type='ZeroShotAccuracy', topk=(1, 5),
                           prefix='zero_shot_cifar10'),
            zero_shot=dict(benchmark='cifar10'))))

    Args:
        extra_sets (dict): ``{name: dict(dataloader, evaluator, zero_shot=None)}``;
            ``zero_shot`` holds the arguments of ``zero_shot_prompts``.
    """

    def __init__(self, runner, dataloader, evaluator, extra_sets: Optional[Dict] = None,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.extra_sets = ExtraSets(runner, extra_sets, type(self).__name__)

    def run(self) -> dict:
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        self.val_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        self.extra_sets.evaluate_into(metrics, self.fp16)
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics


@LOOPS.register_module()
class MultiTestLoop(TestLoop):
    """``TestLoop`` on ``test_dataloader``, then on every set of ``extra_sets``.

    The test counterpart of :class:`MultiValLoop`, with the same ``extra_sets``.
    ``tools/test.py`` uses it with ``val_cfg``'s extra sets when ``test_cfg``
    names none (say ``--no-extra-sets`` to score the test set alone).

    Example config::

        test_cfg = dict(type='MultiTestLoop', extra_sets=dict(cifar10=dict(
            dataloader=..., evaluator=dict(type='ZeroShotAccuracy',
                                           prefix='zero_shot_cifar10'),
            zero_shot=dict(benchmark='cifar10'))))

    Args:
        extra_sets (dict): As in :class:`MultiValLoop`.
    """

    def __init__(self, runner, dataloader, evaluator, extra_sets: Optional[Dict] = None,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.extra_sets = ExtraSets(runner, extra_sets, type(self).__name__)

    def run(self) -> dict:
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        self.extra_sets.evaluate_into(metrics, self.fp16)
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics
