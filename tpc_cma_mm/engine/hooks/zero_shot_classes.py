"""Zero-shot classes of the evaluated data set, taken from (or checked against) its metainfo."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from tpc_cma_mm.datasets.zero_shot_classes import prompt_classnames
from tpc_cma_mm.registry import HOOKS

__all__ = ['ZeroShotClassesHook']


@HOOKS.register_module()
class ZeroShotClassesHook(Hook):
    """Before validation and test, ties the model's zero-shot classes to the data set's labels.

    The model's ``zero_shot`` scores column ``i`` as class ``classnames[i]``;
    mmpretrain's ``Accuracy`` compares it with label ``i`` of the data set. A
    class list that differs from the data set's ``metainfo['classes']`` in
    order or count would give a wrong accuracy without any error, so it is
    refused; a ``zero_shot`` with templates only takes the data set's class
    names. A model without ``zero_shot``, or a data set without classes (COCO
    captions), is left alone.

    Example config::

        default_hooks = dict(zero_shot_classes=dict(type='ZeroShotClassesHook'))
        model = dict(zero_shot=dict(templates=['a photo of a {}.']))
    """

    def before_val(self, runner) -> None:
        self._tie(runner, runner.val_loop.dataloader.dataset)

    def before_test(self, runner) -> None:
        self._tie(runner, runner.test_loop.dataloader.dataset)

    @staticmethod
    def _tie(runner, dataset) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        zero_shot = getattr(model, 'zero_shot', None)
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        if not zero_shot or not classes:
            return
        names = zero_shot.get('classnames')
        if names is None:
            model.set_zero_shot(classes, zero_shot['templates'])
            return
        # Position-by-position comparison, refusing another order or count.
        prompt_classnames(classes, [(name, name) for name in names])
