"""Training: ``TrainRecipe`` and ``fit`` (in-memory fast path, DataLoader path, REWEIGHT, GroupDRO)."""

from ._fit import check_sampling_weights, fit, progress_bar, seed_everything
from ._loop import augment_batch, batch_indices, make_optimizer, make_scheduler, trainable_parameters
from ._recipe import TrainRecipe

__all__ = ["TrainRecipe", "augment_batch", "batch_indices", "check_sampling_weights", "fit", "make_optimizer", "make_scheduler",
           "progress_bar", "seed_everything", "trainable_parameters"]
