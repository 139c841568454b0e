"""A small caption decoder conditioned on one CLIP embedding (ClipCap-style prefix)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import nn

from tpc_cma_mm.registry import MODELS
from .tokenizer import CLIPTokenizer

__all__ = ['CaptionDecoder', 'vocab_from_tokens']

SOT_ID, EOT_ID, CLIP_VOCAB = 49406, 49407, 49408


def vocab_from_tokens(tokens: torch.Tensor) -> List[int]:
    """Sorted BPE ids used by ``(N, L)`` CLIP token rows (up to each end token)."""
    eot = tokens.argmax(dim=-1, keepdim=True)
    used = tokens[torch.arange(tokens.shape[1]).unsqueeze(0) <= eot]
    return sorted(set(used.tolist()) | {SOT_ID, EOT_ID})


@MODELS.register_module()
class CaptionDecoder(BaseModel):
    """Causal transformer that writes a caption from a CLIP embedding.

    The embedding is mapped by a linear layer to ``prefix_length`` tokens that
    precede the caption's BPE tokens; the decoder is trained with
    teacher-forced cross-entropy and decodes greedily (``beam_size=1``) or by
    beam search. Trained on *text* embeddings only, it captions *image*
    embeddings only as far as the modality gap is closed.

    Example config::

        model = dict(type='CaptionDecoder', embed_dim=64, width=128, num_layers=2,
                     num_heads=4, prefix_length=4, context_length=32,
                     vocab=None, noise_std=0.0, beam_size=1)

    ``vocab`` restricts the output layer to a sorted list of CLIP BPE ids
    (``vocab_from_tokens`` of the training captions); ids are remapped to
    positions in that list internally, and captions use ids outside it
    raise. ``None`` keeps all 49,408 ids.

    Forward modes, on batches of ``EmbeddingCaptions`` items (``inputs``: the
    embeddings; ``data_samples`` with ``text_tokens``): ``loss``, ``predict``
    (sets ``pred_caption`` on the data samples) and ``tensor`` (teacher-forced
    next-token logits over ``vocab``).

    Args:
        embed_dim (int): Size of the conditioning embedding.
        width, num_layers, num_heads (int): Transformer size.
        prefix_length (int): Prefix tokens made from the embedding.
        context_length (int): Caption tokens, start and end included.
        vocab (list[int], optional): Allowed BPE ids (must hold 49406, 49407).
        noise_std (float): CapDec noise injection: the training embedding gets
            Gaussian noise of std sigma (variance sigma^2); 0 turns it off.
            CapDec's COCO setting, variance 0.016, is ``noise_std=0.126``.
        beam_size (int): 1 is greedy decoding.
        length_penalty (float): Beams are ranked by log-prob / length**this.
        dropout (float): Transformer dropout.
    """

    def __init__(self, embed_dim: int, width: int = 128, num_layers: int = 2,
                 num_heads: int = 4, prefix_length: int = 4, context_length: int = 32,
                 vocab: Optional[Sequence[int]] = None, noise_std: float = 0.0,
                 beam_size: int = 1, length_penalty: float = 1.0, dropout: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        ids = torch.tensor(sorted(set(vocab)) if vocab is not None else range(CLIP_VOCAB))
        if SOT_ID not in ids or EOT_ID not in ids:
            raise ValueError('CaptionDecoder vocab must contain the start (49406) and '
                             'end (49407) tokens; build it with vocab_from_tokens().')
        self.register_buffer('vocab_ids', ids.long(), persistent=True)
        self.sot_index = int((ids == SOT_ID).nonzero())
        self.eot_index = int((ids == EOT_ID).nonzero())
        self.prefix_length, self.width = prefix_length, width
        self.context_length = context_length
        self.noise_std, self.beam_size = float(noise_std), int(beam_size)
        self.length_penalty = float(length_penalty)
        self.prefix = nn.Linear(embed_dim, prefix_length * width)
        self.token_embedding = nn.Embedding(len(ids), width)
        self.positional_embedding = nn.Parameter(
            torch.randn(prefix_length + context_length, width) * 0.01)
        layer = nn.TransformerEncoderLayer(width, num_heads, 4 * width, dropout,
                                           activation='gelu', batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.ln_final = nn.LayerNorm(width)
        self.head = nn.Linear(width, len(ids))
        self._tokenizer: Optional[CLIPTokenizer] = None

    def to_index(self, tokens: torch.Tensor) -> torch.Tensor:
        """BPE ids -> positions in ``vocab_ids`` (padding after the end token -> 0)."""
        idx = torch.searchsorted(self.vocab_ids, tokens.contiguous())
        idx = idx.clamp(max=len(self.vocab_ids) - 1)
        eot = tokens.argmax(dim=-1, keepdim=True)
        real = torch.arange(tokens.shape[1], device=tokens.device) <= eot
        unknown = real & (self.vocab_ids[idx] != tokens)
        if unknown.any():
            raise ValueError(f'Caption tokens {sorted(set(tokens[unknown].tolist()))[:10]} '
                             'are not in the decoder vocab: rebuild vocab from these captions.')
        return torch.where(real, idx, torch.zeros_like(idx))

    def logits(self, embed: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(B, T, V)`` for vocab-index sequences ``seq`` (B, T)."""
        if seq.shape[1] > self.context_length:
            raise ValueError(f'Caption of {seq.shape[1]} tokens exceeds the decoder '
                             f'context_length {self.context_length}.')
        prefix = self.prefix(embed).view(embed.shape[0], self.prefix_length, self.width)
        x = torch.cat([prefix, self.token_embedding(seq)], dim=1)
        x = x + self.positional_embedding[:x.shape[1]]
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device)
        x = self.blocks(x, mask=mask, is_causal=True)
        return self.head(self.ln_final(x[:, self.prefix_length:]))

    def forward(self, inputs, data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        embed = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
        if mode == 'predict':
            return self.predict(embed, data_samples)
        if not data_samples or 'text_tokens' not in data_samples[0]:
            raise ValueError(f'CaptionDecoder {mode} mode needs data_samples with '
                             'text_tokens (EmbeddingCaptions items carry them).')
        tokens = torch.stack([s.text_tokens for s in data_samples]).to(embed.device)
        if mode == 'loss':
            return self.loss(embed, tokens)
        if mode == 'tensor':
            return self.logits(embed, self.to_index(tokens)[:, :-1])
        raise RuntimeError(f'Invalid mode "{mode}": use loss, tensor or predict.')

    def loss(self, embed: torch.Tensor, tokens: torch.Tensor) -> Dict[str, torch.Tensor]:
        if self.noise_std > 0:  # CapDec: train on noisy text embeddings
            embed = embed + self.noise_std * torch.randn_like(embed)
        eot = tokens.argmax(dim=-1)
        idx = self.to_index(tokens[:, :int(eot.max()) + 1])
        logits = self.logits(embed, idx[:, :-1])
        mask = torch.arange(idx.shape[1] - 1, device=idx.device) < eot[:, None]
        target = idx[:, 1:][mask]
        logits = logits[mask]
        accuracy = (logits.argmax(-1) == target).float().mean()
        return dict(loss_caption=F.cross_entropy(logits, target), token_acc=accuracy)

    @torch.no_grad()
    def generate(self, embed: torch.Tensor, beam_size: Optional[int] = None,
                 max_length: Optional[int] = None) -> List[List[int]]:
        """BPE ids (no start / end tokens) of the best caption for each embedding."""
        k = beam_size or self.beam_size
        max_length = min(max_length or self.context_length, self.context_length)
        batch, vocab = embed.shape[0], len(self.vocab_ids)
        embed = embed.repeat_interleave(k, dim=0)
        seqs = torch.full((batch * k, 1), self.sot_index, device=embed.device)
        scores = torch.full((batch, k), float('-inf'), device=embed.device)
        scores[:, 0] = 0  # one live beam to start with
        done = torch.zeros(batch * k, dtype=torch.bool, device=embed.device)
        for _ in range(max_length - 1):
            logp = self.logits(embed, seqs)[:, -1].float().log_softmax(-1)
            logp[done] = float('-inf')
            logp[done, self.eot_index] = 0  # finished beams keep their score
            cand = (scores.view(-1, 1) + logp).view(batch, k * vocab)
            scores, flat = cand.topk(k, dim=-1)
            rows = (torch.arange(batch, device=embed.device)[:, None] * k
                    + flat // vocab).view(-1)
            token = (flat % vocab).view(-1, 1)
            seqs = torch.cat([seqs[rows], token], dim=1)
            done = done[rows] | (token[:, 0] == self.eot_index)
            if done.all():
                break
        body = seqs[:, 1:]
        is_eot = body == self.eot_index
        lengths = torch.where(is_eot.any(1), is_eot.int().argmax(1) + 1,
                              torch.full_like(done, body.shape[1], dtype=torch.long))
        best = (scores.view(-1) / lengths.float() ** self.length_penalty).view(batch, k)
        rows = torch.arange(batch, device=embed.device) * k + best.argmax(-1)
        ids = self.vocab_ids[body[rows]]
        return [row[:n - int(bool(e))].tolist()
                for row, n, e in zip(ids, lengths[rows], is_eot[rows].any(1))]

    @property
    def tokenizer(self) -> CLIPTokenizer:
        if self._tokenizer is None:
            self._tokenizer = CLIPTokenizer(context_length=self.context_length)
        return self._tokenizer

    def predict(self, embed: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Sets ``pred_caption`` on each data sample (new ones if none given)."""
        if data_samples is None:
            data_samples = [DataSample() for _ in range(embed.shape[0])]
        for sample, ids in zip(data_samples, self.generate(embed)):
            sample.pred_caption = self.tokenizer.decode(ids)
        return data_samples
