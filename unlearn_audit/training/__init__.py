"""Training: ``TrainRecipe``, the one training step ``Trainer``, and ``fit`` (in-memory fast path, DataLoader path,
REWEIGHT, GroupDRO)."""

from ._fit import check_sampling_weights, fit, progress_bar, seed_everything
from ._loop import augment_batch, batch_indices, make_optimizer, make_scheduler, trainable_parameters
from ._recipe import TrainRecipe
from ._trainer import Trainer, group_dro_loss

__all__ = ["TrainRecipe", "Trainer", "augment_batch", "batch_indices", "check_sampling_weights", "fit",
           "group_dro_loss", "make_optimizer", "make_scheduler", "progress_bar", "seed_everything",
           "trainable_parameters"]
