"""The audit report: data first (``AuditReport``), rendered last (rich table, HTML, Markdown checklist)."""

from ._compare import INTERVAL_METHOD, Comparison, compare, value_interval
from ._findings import INCONCLUSIVE_POLICIES, Finding, Status, check_policy, gate_status
from ._report import SCHEMA_VERSION, AuditReport, ModelRecord, atomic_write_text

__all__ = ["INCONCLUSIVE_POLICIES", "INTERVAL_METHOD", "SCHEMA_VERSION", "AuditReport", "Comparison", "Finding",
           "ModelRecord", "Status", "atomic_write_text", "check_policy", "compare", "gate_status",
           "value_interval"]
