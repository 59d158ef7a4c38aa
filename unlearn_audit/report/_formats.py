"""The one registry of report formats: name, file name and writer of every report file the audit can write.

The CLI (``--formats``), the pytest plugin (``--unlearn-report-formats``) and anything else that writes report
files read it, so a format is named, and its file called, the same everywhere. Torch-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["ReportFormat", "REPORT_FORMATS", "FORMAT_NAMES", "parse_formats", "write_reports"]


@dataclass(frozen=True)
class ReportFormat:
    """One report file.

    Attributes:
        name: what options call it (``"json"``).
        filename: the file it is written to inside the report folder (``"report.json"``).
        writer: the ``AuditReport`` method that writes it to a path (atomically, mode 0644).
        description: what it holds, for help texts.
    """

    name: str
    filename: str
    writer: str
    description: str

    def write(self, report: "AuditReport", directory: str | os.PathLike) -> Path:
        """Write ``report`` as this format into ``directory``; returns the path."""
        path = Path(directory) / self.filename
        getattr(report, self.writer)(path)
        return path


REPORT_FORMATS: dict[str, ReportFormat] = {f.name: f for f in (
    ReportFormat("json", "report.json", "to_json", "every number, interval and finding (machine-readable)"),
    ReportFormat("html", "report.html", "to_html", "a self-contained page with the tables and plots"),
    ReportFormat("md", "checklist.md", "to_checklist", "a compliance checklist a reviewer signs"),
)}
#: every format name, in the order files are written
FORMAT_NAMES: tuple[str, ...] = tuple(REPORT_FORMATS)


def parse_formats(text: str) -> tuple[str, ...]:
    """``"json, HTML"`` -> ``("json", "html")`` (lower-cased, duplicates dropped).

    Raises:
        ValueError: empty, or a name that is not in ``REPORT_FORMATS`` (the message lists the known ones).
    """
    parts = tuple(dict.fromkeys(p.strip().lower() for p in str(text).split(",") if p.strip()))
    unknown = [p for p in parts if p not in REPORT_FORMATS]
    if not parts or unknown:
        raise ValueError(f"{text!r} is not a comma-separated subset of {','.join(FORMAT_NAMES)}")
    return parts


def write_reports(report: "AuditReport", directory: str | os.PathLike, formats: tuple[str, ...] = FORMAT_NAMES
                  ) -> list[Path]:
    """Write ``report`` into ``directory`` in each of ``formats`` (names of ``REPORT_FORMATS``); returns the paths."""
    return [REPORT_FORMATS[name].write(report, directory) for name in formats]
