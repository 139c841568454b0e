from .atomic_checkpoint import AtomicCheckpointHook, AtomicLocalBackend, atomic_write
from .nonfinite_guard import NonFiniteGuardHook, NonFiniteLossError
from .require_files import RequireFilesHook
from .tpc_curriculum import TPCCurriculumHook
from .work_dir_lock import WorkDirLockHook

__all__ = [
    'atomic_write', 'AtomicCheckpointHook', 'AtomicLocalBackend', 'NonFiniteGuardHook',
    'NonFiniteLossError', 'RequireFilesHook', 'TPCCurriculumHook', 'WorkDirLockHook'
]
