"""The audit report: data first (``AuditReport``), rendered last (rich table, HTML, Markdown checklist)."""

from ._baseline import BaselineComparison, BaselineMismatch, compare_reports, parse_max_regression
from ._compare import INTERVAL_METHOD, Comparison, compare, value_interval
from ._formats import FORMAT_NAMES, REPORT_FORMATS, ReportFormat, parse_formats, write_reports
from ._findings import INCONCLUSIVE_POLICIES, Finding, Status, check_policy, gate_status
from ._report import SCHEMA_VERSION, AuditReport, ModelRecord, atomic_write_text

__all__ = ["BaselineComparison", "BaselineMismatch", "compare_reports", "parse_max_regression", "FORMAT_NAMES", "INCONCLUSIVE_POLICIES", "INTERVAL_METHOD", "REPORT_FORMATS", "SCHEMA_VERSION",
           "AuditReport", "Comparison", "Finding", "ModelRecord", "ReportFormat", "Status", "atomic_write_text",
           "check_policy", "compare", "gate_status", "parse_formats", "value_interval", "write_reports"]
