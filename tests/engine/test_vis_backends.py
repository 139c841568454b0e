"""Every logged key reaches MLflow (the strictest of mmengine's vis backends about names)."""
import pytest
from mmengine.config import Config

from tiny_runner import run_tiny, tiny_runner_cfg

mlflow = pytest.importorskip('mlflow', reason="pip install -e '.[mlflow]'")

EVALUATORS = [
    dict(type='CrossModalRetrieval', topk=(1, 5)),
    dict(type='CrossModalRetrieval', posthoc=dict(type='MeanCentering')),
    dict(type='ModalityGapMetric'),
    dict(type='JointClusteringMetric', seeds=(0, ), n_init=2),
]


@pytest.mark.slow
def test_a_validation_logs_every_metric_to_mlflow(tmp_path, monkeypatch):
    """Two training iterations and one validation with mmengine's MLflowVisBackend
    on a file store: the run must not die on a metric name (MLflow refuses ``@``),
    and every validation key must be stored under the name the Runner logged."""
    # MLflow 3.18 refuses mmengine's default file store unless asked
    # (README, "A new user's checklist")
    monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')
    store = tmp_path / 'mlruns'
    cfg = tiny_runner_cfg(
        tmp_path / 'work', max_iters=2, interval=2, val=True, curriculum=False,
        visualizer=dict(type='Visualizer', vis_backends=[dict(
            type='MLflowVisBackend', save_dir=str(tmp_path / 'vis'), exp_name='tiny',
            tracking_uri=f'file://{store}')]))
    cfg['val_evaluator'] = EVALUATORS
    runner = run_tiny(Config(cfg))  # as the tools: the config goes to MLflow too
    logged = runner.message_hub.log_scalars
    val_keys = {k[len('val/'):] for k in logged if k.startswith('val/')}
    assert {'retrieval/i2t_R1', 'retrieval/t2i_R5', 'mean_centering/retrieval/i2t_R1',
            'gap/centroid'} <= val_keys

    client = mlflow.tracking.MlflowClient(tracking_uri=f'file://{store}')
    (run,) = client.search_runs([client.get_experiment_by_name('tiny').experiment_id])
    stored = set(run.data.metrics)
    assert val_keys <= stored, val_keys - stored
    assert run.data.metrics['retrieval/i2t_R1'] == pytest.approx(
        logged['val/retrieval/i2t_R1'].current())
