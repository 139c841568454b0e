"""CaptionDecoder: overfits a few captions, decodes exactly; EmbeddingCaptions."""
import pytest
import torch
from mmpretrain.structures import DataSample

from tpc_cma_mm.datasets.embedding_captions import EmbeddingCaptions
from tpc_cma_mm.models.captioner import EOT_ID, SOT_ID, vocab_from_tokens
from tpc_cma_mm.registry import MODELS, TOKENIZER

CAPTIONS = ['a photo of a red circle', 'an image of a large blue square in the top left',
            'a picture of a shape', 'a photo of a small green star in the centre']


def build_decoder(tokens, **kw):
    cfg = dict(type='CaptionDecoder', embed_dim=32, width=64, num_layers=2, num_heads=2,
               prefix_length=2, context_length=tokens.shape[1], vocab=vocab_from_tokens(tokens))
    cfg.update(kw)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def overfit(request):
    """A decoder trained to reproduce CAPTIONS from their text embeddings."""
    from tiny import tiny_model_cfg
    torch.manual_seed(0)
    clip = MODELS.build(tiny_model_cfg()).eval()
    tokens = clip.tokenizer(CAPTIONS)
    with torch.no_grad():
        embeds = clip(text_tokens=tokens, mode='tensor')['text_embeds']
    decoder = build_decoder(tokens)
    samples = [DataSample(text_tokens=t) for t in tokens]
    opt = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    for _ in range(200):
        losses = decoder(embeds, samples, mode='loss')
        opt.zero_grad()
        losses['loss_caption'].backward()
        opt.step()
        if losses['loss_caption'] < 0.01:
            break
    return decoder.eval(), embeds, tokens


def test_vocab_from_tokens_and_remap():
    tokens = torch.tensor([[SOT_ID, 320, 1125, EOT_ID, 0, 0], [SOT_ID, 2368, EOT_ID, 0, 0, 0]])
    vocab = vocab_from_tokens(tokens)
    assert vocab == [320, 1125, 2368, SOT_ID, EOT_ID]  # padding (0) is not in it
    decoder = build_decoder(tokens)
    assert decoder.to_index(tokens).tolist() == [[3, 0, 1, 4, 0, 0], [3, 2, 4, 0, 0, 0]]
    with pytest.raises(ValueError, match='not in the decoder vocab'):
        decoder.to_index(torch.tensor([[SOT_ID, 999, EOT_ID]]))
    with pytest.raises(ValueError, match='start'):
        build_decoder(tokens, vocab=[320, EOT_ID])


def test_overfits_and_greedy_reproduces_captions(overfit):
    decoder, embeds, _ = overfit
    assert [s.pred_caption for s in decoder(embeds, mode='predict')] == CAPTIONS
    decoder.beam_size = 3
    try:
        assert [s.pred_caption for s in decoder(embeds, mode='predict')] == CAPTIONS
    finally:
        decoder.beam_size = 1


def sequence_logprob(decoder, embed, ids):
    """Log-probability of ``ids`` (then the end token, unless cut at the maximum
    length) by teacher forcing."""
    ended = len(ids) < decoder.context_length - 1
    seq = torch.tensor([[SOT_ID] + ids + [EOT_ID] * ended])
    seq = torch.searchsorted(decoder.vocab_ids, seq)
    logp = decoder.logits(embed[None], seq[:, :-1]).log_softmax(-1)[0]
    return logp.gather(1, seq[0, 1:, None]).sum()


def test_greedy_matches_stepwise_argmax_and_beam_scores_higher():
    torch.manual_seed(1)
    tokens = TOKENIZER.build(dict(type='CLIPTokenizer', context_length=12))(CAPTIONS)
    decoder = build_decoder(tokens).eval()  # untrained: no caption is favoured
    embeds = torch.nn.functional.normalize(torch.randn(3, 32), dim=-1)
    greedy = decoder.generate(embeds, beam_size=1)
    for embed, ids in zip(embeds, greedy):
        seq = [decoder.sot_index]
        with torch.no_grad():
            for _ in range(decoder.context_length - 1):
                nxt = int(decoder.logits(embed[None], torch.tensor([seq]))[0, -1].argmax())
                seq.append(nxt)
                if nxt == decoder.eot_index:
                    break
        expected = decoder.vocab_ids[torch.tensor(seq[1:])].tolist()
        assert ids == [i for i in expected if i != EOT_ID]
    decoder.length_penalty = 0.0  # rank beams by total log-probability
    with torch.no_grad():
        for embed, g, b in zip(embeds, greedy, decoder.generate(embeds, beam_size=4)):
            assert sequence_logprob(decoder, embed, b) >= sequence_logprob(
                decoder, embed, g) - 1e-5


def test_noise_injection_only_in_loss(overfit):
    decoder, embeds, tokens = overfit
    samples = [DataSample(text_tokens=t) for t in tokens]
    clean = decoder(embeds, samples, mode='loss')['loss_caption']
    decoder.noise_std = 0.5
    try:
        assert decoder(embeds, samples, mode='loss')['loss_caption'] != clean
        assert [s.pred_caption for s in decoder(embeds, mode='predict')] == CAPTIONS
    finally:
        decoder.noise_std = 0.0


def test_embedding_captions_grouping_and_centering(tmp_path):
    torch.manual_seed(0)
    split = lambda n: dict(  # noqa: E731
        img_embeds=torch.nn.functional.normalize(torch.randn(n, 4), dim=-1),
        text_embeds=torch.nn.functional.normalize(torch.randn(n, 4), dim=-1),
        tokens=torch.arange(n * 3).view(n, 3), texts=[f'caption {i}' for i in range(n)],
        img_ids=[i // 2 for i in range(n)], images=None)
    cache = dict(meta={}, train=split(6), test=split(4))
    path = str(tmp_path / 'embeds.pth')
    torch.save(cache, path)
    per_caption = EmbeddingCaptions(path, 'train', 'text')
    assert len(per_caption) == 6
    item = per_caption[3]
    assert torch.equal(item['inputs'], cache['train']['text_embeds'][3])
    assert item['data_samples'].gt_caption == ['caption 3']
    grouped = EmbeddingCaptions(path, 'test', 'image', group_by_image=True, center=True)
    assert len(grouped) == 2 and grouped[1]['data_samples'].gt_caption == ['caption 2',
                                                                          'caption 3']
    centred = cache['test']['img_embeds'][2] - cache['train']['img_embeds'].mean(0)
    torch.testing.assert_close(grouped[1]['inputs'], centred / centred.norm())
    assert grouped[1]['data_samples'].img_id == 1
