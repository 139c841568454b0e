import torch


def test_tiny_model_embeds_are_normalised(tiny_model):
    images = torch.randn(3, 3, 16, 16)
    tokens = tiny_model.tokenizer(['a red circle', 'a blue square', 'a star'])
    out = tiny_model(images, text_tokens=tokens, mode='tensor')
    assert out['img_embeds'].shape == (3, 32)
    torch.testing.assert_close(out['text_embeds'].norm(dim=-1), torch.ones(3))
