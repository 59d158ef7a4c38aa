"""The HTML report's stylesheet: screen (fits 800 px and phones: wide tables scroll inside their own box) and print."""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """
:root { --inc:#6a1b9a; --inc-bg:#f3e5f5; --fail:#c62828; --fail-bg:#fdecea; --warn:#8d6e00; --warn-bg:#fff6d5;
        --pass:#1b5e20; --pass-bg:#e8f5e9; --muted:#5f6368; --line:#dadce0; --user:#f3e8fd; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0;
       color: #202124; background: #fff; line-height: 1.45; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 20px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.25rem; margin: 32px 0 8px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 1.05rem; margin: 20px 0 6px; }
.meta, .note, figcaption, .caption { color: var(--muted); font-size: .9rem; }
.caption { margin: 4px 0 12px; max-width: 75em; }
.verdict { display: inline-block; max-width: 100%; padding: 6px 14px; border-radius: 6px; font-weight: 700;
           font-size: 1.1rem; margin: 10px 0; }
.v-FAIL { background: var(--fail-bg); color: var(--fail); border: 1px solid var(--fail); }
.v-WARN { background: var(--warn-bg); color: var(--warn); border: 1px solid var(--warn); }
.v-INCONCLUSIVE { background: var(--inc-bg); color: var(--inc); border: 1px dashed var(--inc); }
.v-PASS { background: var(--pass-bg); color: var(--pass); border: 1px solid var(--pass); }
.v-SKIP { background: #f1f3f4; color: var(--muted); border: 1px solid var(--line); }
.scroll { max-width: 100%; overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: #f8f9fa; text-align: left; font-weight: 600; }
table.summary td.num, table.summary th.num { text-align: right; white-space: nowrap;
     font-variant-numeric: tabular-nums; }
table.summary td.num .sd, table.summary td.num .delta { display: block; font-size: .78rem; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.summary tr.role-start td { border-top: 2px solid #bdc1c6; }
tr.user td { background: var(--user); } tr.user td.model { font-weight: 700; }
td.model { min-width: 9em; }
td.model .role { display: block; font-size: .78rem; color: var(--muted); font-weight: 400; }
td.st-FAIL { background: var(--fail-bg); color: var(--fail); font-weight: 600; }
td.st-WARN { background: var(--warn-bg); color: var(--warn); font-weight: 600; }
td.st-INCONCLUSIVE { background: var(--inc-bg); color: var(--inc); font-weight: 600; font-style: italic; }
td.st-PASS { background: var(--pass-bg); color: var(--pass); }
td.error, .error { color: var(--fail); }
table.findings tr.head td { border-bottom: 0; } table.findings tr.why td { color: #3c4043; padding-bottom: 8px; }
table.findings tr.why div { max-width: min(70em, calc(100vw - 70px)); padding-left: 1.5em; }
table.findings code { white-space: nowrap; }
span.badge { display: inline-block; min-width: 3.2em; text-align: center; padding: 1px 6px; border-radius: 4px;
             font-size: .8rem; font-weight: 700; }
span.b-FAIL { background: var(--fail); color: #fff; } span.b-WARN { background: #f9ab00; color: #202124; }
span.b-PASS { background: var(--pass); color: #fff; } span.b-SKIP { background: #9aa0a6; color: #fff; }
span.b-INCONCLUSIVE { background: var(--inc); color: #fff; }
table.kv { width: 100%; table-layout: fixed; } table.kv th { width: 34%; background: #fafafa; font-weight: 500; }
table.kv th, table.kv td { overflow-wrap: anywhere; }
dl.columns { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: .88rem; margin: 8px 0; }
dl.columns dt { font-weight: 600; } dl.columns dd { margin: 0; color: #3c4043; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
.mono { overflow-wrap: anywhere; }
figure { margin: 12px 0 24px; max-width: 100%; } figure img { display: block; max-width: 100%; height: auto;
         border: 1px solid var(--line); }
details > summary { cursor: pointer; color: #1a73e8; margin: 6px 0; }
ul.not-drawn li { color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: .8rem; }
@media (max-width: 600px) { main { padding: 12px 10px 32px; } dl.columns { grid-template-columns: 1fr; }
                            dl.columns dd { margin-bottom: 6px; } }
@media print {
  @page { margin: 14mm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  table { font-size: 8pt; } th, td { padding: 2px 4px; }
  h2, h3 { break-after: avoid; } figure, tr, .verdict, dl.columns { break-inside: avoid; }
  figure img { max-height: 24cm; object-fit: contain; }
  details > summary { color: #202124; font-weight: 600; }
  details::details-content { content-visibility: visible; display: block; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
