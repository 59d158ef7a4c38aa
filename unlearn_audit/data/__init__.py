"""Group-aware data model: ``GroupDataset``, ``AuditData`` and forget-set builders."""

from ._audit_data import AuditData
from ._forget import forget_class, forget_from_groups, forget_random
from ._group_dataset import GroupDataset, as_index_tensor

__all__ = ["AuditData", "GroupDataset", "as_index_tensor", "forget_class", "forget_from_groups", "forget_random"]
