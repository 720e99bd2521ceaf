"""Training with ``model.fit``: deep-supervision loss, schedule, checkpoints.

The separation model maps features to masks. For training it is wrapped in
a second functional model that applies every stack's masks to the mixture
magnitude, so the loss is the SHN's intermediate supervision:

    loss = sum over stacks s of mean |mask_s * mixture - target|

The wrapper only adds a multiply; the separation model inside it is what
checkpoints save and what ships.

``objective="sdr"`` optimizes what GNSDR measures instead: the final
stack's masks are applied to the mixture's complex STFT (its phase kept),
the patch is turned back into samples by overlap-add, and the loss is the
negative SDR of those samples against the sources' (see
:class:`TimeDomainSDR`); ``"l1+sdr"`` adds it to the SHN's L1.

``precision="mixed_bfloat16"`` trains a copy of the separation model whose
layers compute in bfloat16 (see :func:`with_precision`); its weights stay
float32, and the checkpoints are the float32 model with those weights, so
what ships is the same either way.

Modules: :mod:`~keras_sa.training.objectives` (losses, metrics, the
training wrapper, schedule and compile), :mod:`~keras_sa.training.precision`
(dtype policy), :mod:`~keras_sa.training.callbacks` (selection, checkpoints,
validation GNSDR), :mod:`~keras_sa.training.distributed` (``tf.distribute``
support), :mod:`~keras_sa.training.loop` (``fit`` and the dataset run behind
``keras-sa train``) and :mod:`~keras_sa.training.options` (shared names).
"""

from keras_sa.training.callbacks import GNSDRValidation, SaveSeparationModel
from keras_sa.training.distributed import is_chief
from keras_sa.training.loop import ResumeStateError, completed_epochs, fit, has_tensorboard, train_on_dataset
from keras_sa.training.objectives import (
    SDR_WEIGHT,
    DeepSupervisionL1,
    FinalStackL1,
    FinalStackSDR,
    L1PlusSDR,
    TimeDomainSDR,
    build_training_model,
    compile_for_training,
    learning_rate_schedule,
    patch_signals,
)
from keras_sa.training.options import BACKUP, BEST_MODEL, LAST_MODEL, OBJECTIVES, PRECISIONS, SELECTIONS
from keras_sa.training.precision import with_precision

__all__ = [
    "BACKUP",
    "BEST_MODEL",
    "LAST_MODEL",
    "OBJECTIVES",
    "PRECISIONS",
    "SDR_WEIGHT",
    "SELECTIONS",
    "DeepSupervisionL1",
    "FinalStackL1",
    "FinalStackSDR",
    "GNSDRValidation",
    "L1PlusSDR",
    "ResumeStateError",
    "SaveSeparationModel",
    "TimeDomainSDR",
    "build_training_model",
    "compile_for_training",
    "completed_epochs",
    "fit",
    "has_tensorboard",
    "is_chief",
    "learning_rate_schedule",
    "patch_signals",
    "train_on_dataset",
    "with_precision",
]
