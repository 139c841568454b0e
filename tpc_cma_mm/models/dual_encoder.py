"""A trainable CLIP: any mmpretrain image backbone + CLIP's text transformer."""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import nn

from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils.dist import gather_with_grad
from .build_checks import build_projection
from .distinct_images import DistinctImages
from .objectives import AlignmentObjective
from .plugin_scope import build_in_plugin_scope
from .text_encoder import TextTransformer
from .tokenizer import CLIPTokenizer
from .tower_config import configure_towers
from .vit_pooling import cls_fast_path_ok, vit_cls_forward

__all__ = ['DualEncoder']


@MODELS.register_module()
class DualEncoder(BaseModel):
    """Image tower + text tower trained with InfoNCE and, weighted by alpha, CMA.

    Attribute names follow mmpretrain's ``CLIP`` (``visual``, ``visual_proj``,
    ``transformer``, ``token_embedding``, ``positional_embedding``,
    ``ln_final``, ``text_projection``, ``logit_scale``), so checkpoints made by
    mmpretrain's OpenAI-CLIP converter and by ``tools/convert_clip_weights.py``
    load with no key renaming.

    Example config (a ResNet-50 image tower)::

        model = dict(
            type='DualEncoder',
            vision_backbone=dict(type='ResNet', depth=50),
            vision_neck=dict(type='GlobalAveragePooling'),
            projection=dict(type='CLIPProjection', out_channels=512),  # in_channels inferred
            text_backbone=dict(type='TextTransformer', width=512, layers=12, heads=8),
            proj_dim=512,
            cma_loss=dict(type='CMALoss'),
            combine='convex',
            grad_probe=dict(params=('visual_proj', 'text_projection'), pcgrad=False),
            zero_shot=dict(classnames=['cat', 'dog'], templates=['a photo of a {}.']))

    Forward modes: ``loss`` (a dict of losses and diagnostics), ``tensor``
    (L2-normalised ``img_embeds`` / ``text_embeds``) and ``predict``
    (``DataSample`` s carrying both embeddings and, when ``zero_shot`` is set,
    zero-shot ``pred_score``).

    The model keeps the towers and the modes; its ``objective``
    (:class:`~tpc_cma_mm.models.objectives.AlignmentObjective`, built from
    ``contrastive_loss``, ``cma_loss``, ``alpha``, ``combine`` and
    ``grad_probe``) owns the losses, their combination, the gradient probe,
    the cap and the batch gap estimate. A curriculum (``TPCCurriculumHook``)
    turns the objective's knobs (``model.objective.set_schedule``) and reads
    what the step reports (``probe_grad_*``, ``gap_sq_*`` in the loss dict).

    The image tower runs once on a dummy batch when the model is built, so
    shape mistakes raise a ``ValueError`` naming the config key
    (``models/build_checks.py``).

    Args:
        vision_backbone (dict): Any mmpretrain backbone.
        projection (dict): Maps the (pooled) image feature to ``proj_dim``; its
            ``in_channels``, when left out, is inferred from the image tower.
        text_backbone (dict): The text transformer, usually ``TextTransformer``.
        proj_dim (int): Size of the shared embedding space.
        vision_neck (dict, optional): Pooling for backbones that output maps.
        vocab_size (int): Token vocabulary; 49408 for CLIP's BPE.
        context_length (int): Positions of the text tower.
        contrastive_loss (dict): The InfoNCE loss.
        cma_loss (dict, optional): The alignment loss; ``None`` trains with
            InfoNCE alone.
        alpha (float): Weight of the CMA loss. A curriculum hook sets it every
            iteration (``objective.set_schedule``); left alone it is a
            constant (the no-curriculum baseline).
        combine (str): How alpha mixes the losses: ``'convex'``
            ((1 - alpha) L_con + alpha L_CMA), ``'additive'`` (L_con + alpha
            L_CMA) or ``'grad_share'`` (alpha is the CMA share of the update
            on the probed parameters; probes every step); see
            ``objectives/combination.py``.
        grad_probe (dict, optional): ``params`` and ``pcgrad`` of the
            :class:`~tpc_cma_mm.models.objectives.GradProbe`.
        logit_scale_init (float): Initial log of the inverse temperature.
        logit_scale_max (float): The inverse temperature is clamped to this (100
            in CLIP).
        learnable_logit_scale (bool): Train the temperature or keep it fixed.
        zero_shot (dict, optional): ``classnames`` and ``templates`` (format
            strings with one ``{}``) for zero-shot classification in predict mode.
        tower_cfg (dict, optional): Locked towers and gradient checkpointing,
            e.g. ``dict(lock_image=True, grad_checkpointing=True)``; see
            ``tower_config.configure_towers``.
    """

    def __init__(self,
                 vision_backbone: dict,
                 projection: dict,
                 text_backbone: dict,
                 proj_dim: int,
                 vision_neck: Optional[dict] = None,
                 vocab_size: int = 49408,
                 context_length: int = 77,
                 contrastive_loss: dict = dict(type='ContrastiveLoss'),
                 cma_loss: Optional[dict] = None,
                 alpha: float = 0.0,
                 combine: str = 'convex',
                 grad_probe: Optional[dict] = None,
                 logit_scale_init: float = math.log(1 / 0.07),
                 logit_scale_max: float = 100.0,
                 learnable_logit_scale: bool = True,
                 zero_shot: Optional[dict] = None,
                 tower_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='DualEncoderDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = build_in_plugin_scope(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.visual = build_in_plugin_scope(vision_backbone)
        self.visual_neck = build_in_plugin_scope(vision_neck) if vision_neck else None
        self.visual_proj = build_projection(projection, proj_dim, self.visual,
                                            self.visual_neck, self.image_features,
                                            build_in_plugin_scope)

        self.transformer = build_in_plugin_scope(text_backbone)
        width = self.transformer.width
        self.context_length = context_length
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, proj_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)

        self.logit_scale = nn.Parameter(
            torch.tensor(float(logit_scale_init)),
            requires_grad=learnable_logit_scale)
        self.log_logit_scale_max = math.log(logit_scale_max)

        # No parameters or buffers: the state-dict keys stay those of the towers.
        self.objective = AlignmentObjective(contrastive_loss, cma_loss, alpha, combine,
                                            grad_probe)

        self.zero_shot = zero_shot
        self._prototypes: Optional[torch.Tensor] = None
        self._tokenizer: Optional[CLIPTokenizer] = None
        self.distinct_images = DistinctImages()
        # Prototypes and remembered image embeddings depend on the weights,
        # which change by training or loading.
        self.register_load_state_dict_post_hook(lambda module, keys: module.forget_weights())
        if tower_cfg:
            configure_towers(self, **tower_cfg)
        self.objective.check_probe_params(self)

    # ------------------------------------------------------------- encoders
    def image_features(self, images: torch.Tensor):
        """The pooled image feature, before the projection."""
        if cls_fast_path_ok(self.visual):  # same features, last block on CLS only
            feats = vit_cls_forward(self.visual, images)
        else:
            feats = self.visual(images)
        return self.visual_neck(feats) if self.visual_neck is not None else feats

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        out = self.visual_proj(self.image_features(images))
        return out[-1] if isinstance(out, (tuple, list)) else out

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Image features (projected, not normalised) under mmpretrain's name, which its
        FLOP counter (tools/analysis_tools/get_flops.py) and ``FeatureExtractor`` call."""
        return self.encode_image(inputs)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        # The end-of-text token has the largest id; attention is causal, so
        # the positions after the longest text in the batch cannot change any
        # end-of-text feature and are cut off.
        if tokens.shape[-1] > self.context_length:
            raise ValueError(
                f'Text tokens of length {tokens.shape[-1]} exceed model.context_length='
                f'{self.context_length}: set the tokenizer\'s context_length (e.g. '
                f'TokenizeCaption.context_length) to {self.context_length}.')
        eot = tokens.argmax(dim=-1)
        length = int(eot.max()) + 1
        x = self.token_embedding(tokens[:, :length])
        x = x + self.positional_embedding[:length]
        if isinstance(self.transformer, TextTransformer):
            # Pooled inside the last block: its other positions are skipped.
            return self.ln_final(self.transformer(x, pool_index=eot)) @ self.text_projection
        x = self.ln_final(self.transformer(x))
        return x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection

    def logit_scale_value(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=self.log_logit_scale_max).exp()

    def embed(self, images: Optional[torch.Tensor] = None,
              text_tokens: Optional[torch.Tensor] = None,
              data_samples: Optional[List[DataSample]] = None) -> Dict[str, torch.Tensor]:
        """L2-normalised embeddings of whichever inputs are given.

        Outside training, with ``data_samples`` carrying ``img_id``, rows that
        repeat an image (same id and pixels, in this batch or the previous
        one) go through the image tower once (``models/distinct_images.py``).
        """
        out = {}
        if images is not None:
            def encode(batch):
                return F.normalize(self.encode_image(batch), dim=-1)
            samples = None if self.training else data_samples
            out['img_embeds'] = self.distinct_images(encode, images, samples)
        if text_tokens is not None:
            out['text_embeds'] = F.normalize(self.encode_text(text_tokens), dim=-1)
        return out

    # --------------------------------------------------------------- modes
    def forward(self, inputs: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None,
                text_tokens: Optional[torch.Tensor] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.embed(inputs, text_tokens, data_samples)
        if mode == 'loss':
            return self.loss(inputs, text_tokens)
        if mode == 'predict':
            return self.predict(inputs, data_samples, text_tokens)
        raise RuntimeError(f'Invalid mode "{mode}": use loss, tensor or predict.')

    def loss(self, images: torch.Tensor,
             text_tokens: torch.Tensor) -> Dict[str, torch.Tensor]:
        if images is None or text_tokens is None:
            raise ValueError('loss mode needs both images and text_tokens; '
                             'check that the pipeline has a TokenizeCaption step.')
        embeds = self.embed(images, text_tokens)
        scale = self.logit_scale_value()
        out = dict(logit_scale=scale.detach())
        out.update(self.objective(gather_with_grad(embeds['img_embeds']),
                                  gather_with_grad(embeds['text_embeds']), scale, self))
        return out

    def predict(self, images: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None,
                text_tokens: Optional[torch.Tensor] = None) -> List[DataSample]:
        embeds = self.embed(images, text_tokens, data_samples)
        batch = next(iter(embeds.values())).shape[0]
        if data_samples is None:
            data_samples = [DataSample() for _ in range(batch)]
        scores = None
        if 'img_embeds' in embeds and self.zero_shot:
            scores = embeds['img_embeds'] @ self.class_prototypes().t()
        for i, sample in enumerate(data_samples):
            for key, value in embeds.items():
                sample.set_field(value[i], key)
            if scores is not None:
                sample.set_pred_score(scores[i])
        return data_samples

    # ------------------------------------------------------------ zero-shot
    @property
    def tokenizer(self) -> CLIPTokenizer:
        if self._tokenizer is None:
            self._tokenizer = CLIPTokenizer(context_length=self.context_length)
        return self._tokenizer

    def invalidate_prototypes(self) -> None:
        self._prototypes = None

    def set_zero_shot(self, classnames: Sequence[str],
                      templates: Sequence[str]) -> None:
        """Classify into ``classnames``, given in the data set's label order.

        Callers take the names from the data set's metainfo (see
        ``tpc_cma_mm.datasets.zero_shot_classes``), so index ``i`` of the scores
        is label ``i`` of the data set.
        """
        if not classnames or not templates:
            raise ValueError('set_zero_shot needs at least one class name and one template.')
        self.zero_shot = dict(classnames=list(classnames), templates=list(templates))
        self.invalidate_prototypes()

    def forget_weights(self) -> None:
        """Drop what was computed with the current weights (prototypes, image embeddings)."""
        self.invalidate_prototypes()
        self.distinct_images.forget()

    def train(self, mode: bool = True):
        self.forget_weights()
        return super().train(mode)

    @torch.no_grad()
    def prompt_prototypes(self, classnames: Sequence[str],
                          templates: Sequence[str]) -> torch.Tensor:
        """``(len(classnames), d)``: the mean of the normalised embeddings of each class's
        prompts (every template filled with its name), renormalised. Not cached."""
        device = self.text_projection.device
        prototypes = []
        for name in classnames:
            tokens = self.tokenizer([t.format(name) for t in templates]).to(device)
            prompt_embeds = F.normalize(self.encode_text(tokens), dim=-1)
            prototypes.append(F.normalize(prompt_embeds.mean(0), dim=-1))
        return torch.stack(prototypes)

    @torch.no_grad()
    def class_prototypes(self) -> torch.Tensor:
        """``prompt_prototypes`` of the ``zero_shot`` classes and templates.

        Cached until the weights may change (``train()`` or a state-dict load),
        so every evaluation sees the current text tower.
        """
        if self._prototypes is None:
            self._prototypes = self.prompt_prototypes(
                self.zero_shot['classnames'],
                self.zero_shot.get('templates', ['a photo of a {}.']))
        return self._prototypes
