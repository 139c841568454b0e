"""The reproduction figures' alpha labels: no two overlap, however crowded the points."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from tpc_cma_lab.figures import _overlap, _place_labels  # noqa: E402


def test_labels_of_crowded_points_do_not_overlap():
    fig, ax = plt.subplots(figsize=(4, 3))
    points = [(0.0, 0.0), (0.01, 0.0), (0.0, 0.01), (0.02, 0.01), (0.01, 0.02), (5.0, 5.0)]
    ax.scatter(*zip(*points))
    fig.tight_layout()
    _place_labels(ax, [(x, y, f'α={i}', 'k') for i, (x, y) in enumerate(points)])
    fig.canvas.draw()
    # The text's own box (an annotation's extent would include its leader line).
    boxes = [Text.get_window_extent(t) for t in ax.texts]
    assert len(boxes) == len(points)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not _overlap((a.x0, a.y0, a.x1, a.y1), (b.x0, b.y0, b.x1, b.y1))
    # The lone point keeps the nearest spot, without a leader line.
    assert ax.texts[-1].arrow_patch is None
    plt.close(fig)
