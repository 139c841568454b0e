"""A resumable runner of the study's jobs that records each result as it goes.

Every training is a :class:`~tpc_cma_lab.engine.Run` trained by the lab's
engine (its work dir keeps the exact config, ``python tools/train.py
WORK_DIR/run_config.py`` trains it again); every entry records the
environment it was made in. Results go to one JSON file rewritten after every
job (``tpc_cma_lab.engine.save_records``), so a stopped study resumes. With
``captioning`` (captions.PROTOCOL_KEYS), every job is also captioned; an entry
recorded without captions gets them on a rerun, from its recorded
checkpoints, without training again::

    study = Study(pretrain_cfg, finetune_cfg, 'work_dirs/study',
                  'results/experiments/study.json', threads=1)
    study.run(EXPERIMENTS['compromise'])
"""
import json
import os.path as osp
import time
from typing import Iterable, Tuple

from mmengine.config import Config

from tpc_cma_mm.apis.model import init_model
from tpc_cma_mm.utils import safe_torch_load
from ..engine import environment, load_records, run_config, save_records, set_threads, train
from .captions import caption_entry, check_protocol
from .plan import StudyJob, job_key
from .runs import score_model
from .variants import check_spec, finetune_run, pretrain_config, pretrain_run, spec_name
from .wise_ft import interpolate_state_dicts

__all__ = ['Study']


class Study:
    """Runs jobs against one work dir and one results file (``results/experiments/*.json``),
    every training and scoring at ``threads`` torch threads."""

    def __init__(self, pretrain_cfg: Config, finetune_cfg: Config, work_dir: str,
                 results_file: str, resnet_model: dict = None, captioning: dict = None,
                 threads: int = 1):
        self.pretrain_cfg, self.finetune_cfg = pretrain_cfg, finetune_cfg
        self.resnet_model, self.work_dir, self.results_file = resnet_model, work_dir, results_file
        self.captioning = None if captioning is None else check_protocol(captioning)
        self.threads = threads
        self.results = load_records(results_file)
        for key, entry in self.results.items():  # before anything is built from them
            check_spec(entry.get('spec') if isinstance(entry, dict) else entry,
                       f'{results_file}, entry {key!r}')
        # One method per kind of job (StudyJob.kind is checked against KINDS).
        self._runners = dict(pretrain=self._pretrain, finetune=self._finetune,
                             wise=self._wise, posthoc=self._posthoc)

    def _original(self, name: str) -> dict:
        entry = self.results.get(job_key('pretrain', None, dict(name=name)))
        if entry is None:
            raise KeyError(f'pretrained model {name!r} is not in {self.results_file}: '
                           'run its pretraining job first.')
        return entry

    def pretrained(self, name: str) -> Tuple[str, dict]:
        """The checkpoint and model config of pretrained model ``name``."""
        entry = self._original(name)
        return entry['checkpoint'], self._pretrain_cfg(entry).model

    def _pretrain_cfg(self, entry: dict) -> Config:
        """The config of a recorded pretraining, rebuilt from the shipped configs and its
        spec: config text in a results file is never built. A ``model_cfg`` that older
        files record beside the spec is compared with the rebuilt model and refused if
        they differ (docs/reliability.md)."""
        cfg = pretrain_config(self.pretrain_cfg, entry['spec'], self.resnet_model)
        recorded = entry.get('model_cfg')
        if recorded is not None:
            rebuilt = json.loads(json.dumps(cfg.model.to_dict()))
            differ = sorted(k for k in set(rebuilt) | set(recorded)
                            if rebuilt.get(k) != recorded.get(k)) \
                if isinstance(recorded, dict) else ['model_cfg']
            if differ:
                raise ValueError(
                    f'{self.results_file}: the model_cfg recorded for pretrained model '
                    f'{entry["spec"].get("name")!r} differs in {differ} from the model '
                    'rebuilt from --pretrain-config / --resnet-config and its spec; model '
                    'configs are never taken from a results file. Give the configs it was '
                    "trained with, or delete the entry's 'model_cfg' to use these.")
        return cfg

    def run(self, jobs: Iterable[StudyJob]) -> None:
        jobs = list(jobs)
        set_threads(self.threads)
        for done, job in enumerate(jobs, 1):
            if job.key not in self.results:
                start = time.time()
                entry = self._runners[job.kind](job.pretrained, job.spec)
                entry.update(kind=job.kind, pretrained=job.pretrained, spec=job.spec,
                             minutes=(time.time() - start) / 60,
                             environment=environment(self.threads))
                self.results[job.key] = entry
                save_records(self.results, self.results_file)
                print(f'[{done}/{len(jobs)}] {job.key}: {entry["minutes"]:.1f} min', flush=True)
            if self.captioning is not None:
                self._caption(job.key)

    def _caption(self, key: str) -> None:
        if caption_entry(key, self.results[key], self._model, self.finetune_cfg,
                         self.captioning, osp.join(self.work_dir, 'captioning')):
            save_records(self.results, self.results_file)

    def _model(self, entry: dict):
        """The model of a recorded entry, rebuilt from its checkpoint(s)."""
        kind, pretrained, spec = entry['kind'], entry['pretrained'], entry['spec']
        if kind == 'posthoc':
            return self._model(self._original(pretrained))
        if kind == 'wise':
            return self._wise_model(pretrained, spec)[0]
        cfg = self._pretrain_cfg(entry) if kind == 'pretrain' else \
            self._model_cfg(pretrained, spec)
        return init_model(cfg, entry['checkpoint'])

    def _pretrain(self, _, spec: dict) -> dict:
        run = pretrain_run(self.pretrain_cfg, spec, osp.join(self.work_dir, 'pretrain',
                                                             spec['name']),
                           self.resnet_model, self.threads)
        ckpt, record = train(run, self.pretrain_cfg)
        cfg = run_config(run, self.pretrain_cfg)
        return dict(checkpoint=ckpt, train=record, metrics=score_model(init_model(cfg, ckpt),
                                                                       cfg))

    def _posthoc(self, pretrained: str, spec: dict) -> dict:
        if set(spec) != {'posthoc'}:
            raise ValueError(f"a posthoc job's spec is dict(posthoc=NAME), got {spec}")
        original = self._original(pretrained)
        # Scored on the same config, so the same test split, as the pretrained entry.
        cfg = self._pretrain_cfg(original)
        return dict(metrics=score_model(self._model(original), cfg, spec['posthoc']))

    def _finetune_run(self, pretrained: str, spec: dict):
        checkpoint, model = self.pretrained(pretrained)
        return finetune_run(self.finetune_cfg, spec,
                            osp.join(self.work_dir, pretrained, spec_name(spec)), checkpoint,
                            model, self.threads)

    def _model_cfg(self, pretrained: str, spec: dict) -> Config:
        """The config of a fine-tuning of ``pretrained``: its tower taken whole."""
        return run_config(self._finetune_run(pretrained, spec), self.finetune_cfg)

    def _finetune(self, pretrained: str, spec: dict) -> dict:
        run = self._finetune_run(pretrained, spec)
        ckpt, record = train(run, self.finetune_cfg)
        cfg = run_config(run, self.finetune_cfg)
        return dict(checkpoint=ckpt, train=record,
                    metrics=score_model(init_model(cfg, ckpt), cfg))

    def _wise_model(self, pretrained: str, spec: dict) -> tuple:
        ft_spec = {k: v for k, v in spec.items() if k != 'coefficient'}
        finetuned = self.results.get(job_key('finetune', pretrained, ft_spec))
        if finetuned is None:
            raise KeyError(f'WiSE-FT of {spec_name(ft_spec)} needs that fine-tuning first.')
        cfg = self._model_cfg(pretrained, ft_spec)
        model = init_model(cfg, finetuned['checkpoint'])
        states = [safe_torch_load(p) for p in (self.pretrained(pretrained)[0],
                                               finetuned['checkpoint'])]
        states = [s.get('state_dict', s) for s in states]
        model.load_state_dict(interpolate_state_dicts(*states, spec['coefficient']))
        model.invalidate_prototypes()
        return model.eval(), cfg

    def _wise(self, pretrained: str, spec: dict) -> dict:
        return dict(metrics=score_model(*self._wise_model(pretrained, spec)))
