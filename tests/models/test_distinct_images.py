"""DualEncoder predict / tensor mode: each distinct image through the tower once."""
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample


def _samples(ids):
    return [DataSample(metainfo=dict(img_id=i)) for i in ids]


def _count_rows(model, monkeypatch):
    rows = []
    encode_image = model.encode_image
    monkeypatch.setattr(model, 'encode_image',
                        lambda images: rows.append(len(images)) or encode_image(images))
    return rows, encode_image


def test_an_image_straddling_two_batches_is_embedded_once(tiny_model, monkeypatch):
    model = tiny_model.eval()
    rows, encode_image = _count_rows(model, monkeypatch)
    images = torch.randn(3, 3, 16, 16)
    first = images[[0, 0, 1, 1]]  # image 1's captions go on into the next batch
    second = images[[1, 1, 2]]
    with torch.no_grad():
        a = model.embed(first, data_samples=_samples([10, 10, 11, 11]))['img_embeds']
        b = model.embed(second, data_samples=_samples([11, 11, 12]))['img_embeds']
        want = F.normalize(encode_image(images), dim=-1)
    assert rows == [2, 1]  # images 0, 1, then only image 2
    assert torch.allclose(torch.cat([a, b]), want[[0, 0, 1, 1, 1, 1, 2]], atol=1e-6)
    assert torch.equal(b[0], a[2])  # the remembered embedding, bit for bit


def test_same_id_other_pixels_and_new_weights_are_embedded_again(tiny_model, monkeypatch):
    model = tiny_model.eval()
    rows, _ = _count_rows(model, monkeypatch)
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        # a random pipeline: one id, other pixels -> two rows
        model.embed(images, data_samples=_samples([5, 5]))
        # the same image after the weights may have changed (eval() as a loop
        # starts, load_state_dict) is not taken from memory
        model.eval()
        model.embed(images[:1], data_samples=_samples([5]))
        model.load_state_dict(model.state_dict())
        model.embed(images[:1], data_samples=_samples([5]))
        again = model.embed(images[:1], data_samples=_samples([5]))  # from memory
    assert rows == [2, 1, 1]
    assert again['img_embeds'].shape == (1, 32)
    # training never shares: every row is its own forward (dropout, gradients)
    model.train()
    model.embed(images[[0, 0]], data_samples=_samples([5, 5]))
    assert rows[-1] == 2


def test_predict_scores_each_row_with_its_image(tiny_model):
    model = tiny_model.eval()
    model.set_zero_shot(['cat', 'dog'], ['a {}.'])
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        out = model.predict(images[[0, 0, 1]], _samples([1, 1, 2]))
        plain = model.predict(images[[0, 0, 1]])  # no ids: every row embedded
    for got, want in zip(out, plain):
        assert torch.allclose(got.img_embeds, want.img_embeds, atol=1e-6)
        assert torch.allclose(got.pred_score, want.pred_score, atol=1e-6)
