"""The audit report: data first (``AuditReport``), rendered last (rich table, HTML, Markdown checklist)."""

from ._findings import Finding, Status
from ._report import SCHEMA_VERSION, AuditReport, ModelRecord, atomic_write_text

__all__ = ["SCHEMA_VERSION", "AuditReport", "Finding", "ModelRecord", "Status", "atomic_write_text"]
