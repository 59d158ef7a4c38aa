"""Group-aware data model: ``GroupDataset`` (its inputs a tensor or ``StoredImages``), ``AuditData`` and
forget-set builders."""

from ._audit_data import AuditData
from ._forget import forget_class, forget_from_groups, forget_random
from ._group_dataset import GroupDataset, as_index_tensor
from ._images import StoredImages, cat_inputs, gathered_batches, take_rows, unit_float

__all__ = ["AuditData", "GroupDataset", "StoredImages", "as_index_tensor", "cat_inputs", "forget_class",
           "forget_from_groups", "forget_random", "gathered_batches", "take_rows", "unit_float"]
