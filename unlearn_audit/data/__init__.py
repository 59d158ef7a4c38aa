"""Group-aware data model: ``GroupDataset`` (its inputs a tensor or ``StoredImages``), ``AuditData``, forget-set
builders and the uint8 image store (``open_store``)."""

from ._audit_data import AuditData
from ._forget import forget_class, forget_from_groups, forget_random
from ._group_dataset import GroupDataset, as_index_tensor
from ._images import StoredImages, cat_inputs, gathered_batches, take_rows, unit_float
from ._store import ImageStore, StoreError, open_store, write_store

__all__ = ["AuditData", "GroupDataset", "ImageStore", "StoreError", "StoredImages", "as_index_tensor", "cat_inputs",
           "forget_class", "forget_from_groups", "forget_random", "gathered_batches", "open_store", "take_rows",
           "unit_float", "write_store"]
