"""The audit as a Markdown compliance checklist: evidence for an erasure request that reads without the code.

Sections: the verdict; the erasure request (dataset, forget-set size, composition and fingerprints); what the
unlearned model was compared against (reference retrains, the original, seeds); one checklist line per check on
the user's method, then a table of the checks on the comparison methods (value, bound, status, explanation);
failed models; the metric summary; what each measurement means; the environment (versions, device); limits.
Every user-provided string is escaped so it cannot break the Markdown (``|`` in tables, ``*``, ``<``, ...).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from ._findings import Finding, Status
from ._table import (COLUMNS, GAP_KEYS, fmt_delta, fmt_number, metric_description, metric_direction, metric_label,
                    references_of, seeds_of, summary_rows, verdict_line)

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["render_checklist", "md_escape"]

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_SEV = {Status.FAIL: 0, Status.INCONCLUSIVE: 1, Status.WARN: 2, Status.PASS: 3, Status.SKIP: 4}
#: A distinct box per outcome, so a printed checklist tells them apart without colour.
_BOX = {Status.PASS: "[x]", Status.WARN: "[!]", Status.INCONCLUSIVE: "[?]", Status.FAIL: "[ ]", Status.SKIP: "[-]"}


def md_escape(s: Any) -> str:
    """A user string as inert inline Markdown on one line: backslash-escapes what could start emphasis, code,
    links, HTML, tables, strikethrough, entities or math (``_`` only where it could emphasise, not inside words)."""
    text = " ".join(str("" if s is None else s).split())
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _code(s: Any) -> str:
    """A code span that survives inside a table: fence longer than any backtick run, ``|`` escaped."""
    text = " ".join(str(s).split()).replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _get(d: Any, *paths: str) -> Any:
    """The first ``a.b.c`` path present in nested dict ``d`` (``None`` if none)."""
    for path in paths:
        cur = d
        for part in path.split("."):
            if not isinstance(cur, dict) or part not in cur:
                break
            cur = cur[part]
        else:
            if cur not in (None, "", {}, []):
                return cur
    return None


def _status_word(s: Status) -> str:
    return {Status.PASS: "PASS", Status.WARN: "WARN", Status.INCONCLUSIVE: "**INCONCLUSIVE**", Status.FAIL: "**FAIL**",
            Status.SKIP: "SKIP"}[s]


def _estimate(f: Finding) -> str:
    """``"1.2 [0.0, 3.4]"``: the checked quantity's estimate and its confidence interval."""
    if f.value is None:
        return "—"
    text = fmt_number(f.value)
    if f.lo is not None and f.hi is not None:
        text += f" [{fmt_number(f.lo)}, {fmt_number(f.hi)}]"
    return text


def _direction_words(key: str) -> str:
    return {True: "higher is better", False: "lower is better",
            None: "should be close to the reference retrain"}[metric_direction(key)]


def _finding_line(f: Finding) -> str:
    """``- [x] PASS · model · `eo:abs<=5` — equalized odds (EO): |Δ| = 1.2 [95% CI 0.0, 3.4], bound 5 (this model
    EO = 10.8; retrain = 9.6). Why."""
    box = _BOX[f.status]
    level = f" ({f.level:.0%} CI)" if f.level is not None and f.lo is not None else ""
    bound = f", bound {'≥' if f.direction == 'at_least' else '≤'} {fmt_number(f.bound)}" if f.bound is not None \
        else ""
    checked = f"checked quantity **{_estimate(f)}**{level}{bound}" if f.value is not None else "not measured" + bound
    vals = []
    if f.model_value is not None:
        vals.append(f"this model's {md_escape(f.metric)} = {fmt_number(f.model_value)}")
    if f.reference:
        vals.append(f"{md_escape(f.reference)}" + (f" = {fmt_number(f.reference_value)}"
                                                  if f.reference_value is not None else ""))
    ref = f" ({'; '.join(vals)})" if vals else ""
    why = f" — {md_escape(f.why)}" if f.why else ""
    decide = f" **What would decide it:** {md_escape(f.decide)}" if f.decide else ""
    return (f"- {box} {_status_word(f.status)} · {md_escape(f.model)} · {_code(f.check)} — "
            f"{md_escape(metric_label(f.metric))} ({md_escape(f.metric)}): {checked}{ref}{why}{decide}")


def _findings_table(findings: Iterable[Finding]) -> list[str]:
    out = ["| Status | Model | Check | Metric | Model value | Checked quantity [CI] | Bound | Compared with | "
           "Explanation |", "|---|---|---|---|---:|---:|---:|---|---|"]
    for f in findings:
        ref = "—" if not f.reference else md_escape(f.reference) + (
            f" = {fmt_number(f.reference_value)}" if f.reference_value is not None else "")
        out.append(f"| {_status_word(f.status)} | {md_escape(f.model)} | {_code(f.check)} | "
                   f"{md_escape(metric_label(f.metric))} ({md_escape(f.metric)}) | {fmt_number(f.model_value)} | "
                   f"{_estimate(f)} | {fmt_number(f.bound)} | {ref} | "
                   f"{md_escape(f.decide or f.why) or '—'} |")
    return out


def _sorted(findings: Iterable[Finding], order: list[str]) -> list[Finding]:
    pos = {n: i for i, n in enumerate(order)}
    return sorted(findings, key=lambda f: (pos.get(f.model, len(pos)), _SEV[f.status], f.check))


def _request_section(report: "AuditReport") -> list[str]:
    d = report.data or {}
    n_train = _get(d, "train.n", "n_train", "train_size")
    n_forget = _get(d, "forget.n", "forget.size", "n_forget", "forget_size")
    frac = _get(d, "forget.fraction")
    if frac is None and isinstance(n_forget, (int, float)) and isinstance(n_train, (int, float)) and n_train:
        frac = n_forget / n_train
    groups = _get(d, "forget.groups", "forget.group_counts")
    rows: list[tuple[str, str]] = [("Dataset", md_escape(_get(d, "name", "dataset") or "not recorded"))]
    if n_train is not None:
        rows.append(("Training set", f"{md_escape(n_train)} samples"))
    size = "**not recorded**" if n_forget is None else f"{md_escape(n_forget)} samples" + (
        f" ({100 * frac:.2g}% of the training set)" if isinstance(frac, (int, float)) else "")
    rows.append(("Forget set (data to erase)", size))
    if isinstance(groups, dict):
        rows.append(("Forget-set composition", "; ".join(f"{md_escape(k)}: {md_escape(v)}"
                                                         for k, v in groups.items())))
    how = _get(d, "forget.request", "forget.how", "forget_request")
    if how:
        rows.append(("How the forget set was chosen", _code(how)))
    fp_forget = _get(d, "fingerprint.forget_idx", "fingerprints.forget_idx", "forget.fingerprint",
                     "forget_fingerprint")
    rows.append(("Forget-set fingerprint", (_code(fp_forget) + " (SHA-256 of the forgotten samples' indices; the "
                                            "same request always gives the same fingerprint)")
                 if fp_forget else "**not recorded** — the erasure request cannot be matched to this audit"))
    for split in ("train", "test", "val"):
        fp = _get(d, f"fingerprint.{split}", f"fingerprints.{split}", f"{split}.fingerprint")
        if fp:
            rows.append((f"{split.capitalize()}-data fingerprint", _code(fp) + " (SHA-256 of the data)"))
    request_id = (report.config or {}).get("request_id")
    rows.insert(0, ("Erasure request id", md_escape(request_id) if request_id else
                    "**not recorded** (give it with `--unlearn-request-id` / `unlearn-audit --request-id`)"))
    user = report.user_method
    for label, name in (("Audited model", user), ("Original model", "original")):
        if name is None:
            continue
        fps = sorted({r.fingerprint for r in report.records(name) if r.fingerprint})
        rows.append((f"{label} weights ({md_escape(name)})",
                     ", ".join(_code(fp) for fp in fps) + " (SHA-256 of every parameter and buffer)" if fps
                     else "**not recorded**"))
    for ref in [n for n in report.model_names() if report.records(n)[0].role == "reference"]:
        fps = [f"seed {r.seed}: {_code(r.fingerprint)}" for r in report.records(ref) if r.fingerprint]
        rows.append((f"Reference weights ({md_escape(ref)})", "; ".join(fps) if fps else "**not recorded**"))
    out = ["## 1. The erasure request", "", "| Item | Evidence |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    return out + [""]


def _comparison_section(report: "AuditReport", rows: list[Any]) -> list[str]:
    refs = references_of(report)
    seeds = seeds_of(report)
    user = report.user_method
    suite = [r.name for r in rows if r.role == "method"]
    desc = {"retrain": "trained from scratch on the retained data only, i.e. as if the forget set had never been "
                       "collected (the gold standard an unlearned model should resemble)",
            "retrain+reweight": "trained from scratch on the retained data, resampled so every (label, attribute) "
                                "group keeps its original share (keeps the forgotten group from being "
                                "under-represented)",
            "retrain+groupdro": "trained from scratch on the retained data with group-robust optimisation"}
    out = ["## 2. What it was compared against", ""]
    if user:
        ref_of_user = next((r.reference for r in rows if r.name == user and r.reference), None)
        out.append(f"- **Audited unlearning method:** {md_escape(user)}"
                   + (f" — judged against {md_escape(ref_of_user)}." if ref_of_user else "."))
    for ref in refs:
        out.append(f"- **Reference model {md_escape(ref)}:** {desc.get(ref, 'a reference model named by the audit')}.")
    if not refs:
        out.append("- **Reference model:** none was recorded, so differences to a retrain could not be measured.")
    if any(r.role == "original" for r in rows):
        out.append("- **Original model:** trained on all the data, forget set included: what \"not forgetting\" "
                   "looks like.")
    if suite:
        out.append(f"- **Other unlearning methods, for comparison:** {', '.join(md_escape(s) for s in suite)}.")
    out.append(f"- **Seeds:** {', '.join(map(str, seeds)) or 'not recorded'} — every model was produced "
               f"{len(seeds)} time{'s' if len(seeds) != 1 else ''} with different randomness; values are means "
               f"over seeds, and a model is compared with the reference of the same seed.")
    return out + [""]


def _summary_section(report: "AuditReport", rows: list[Any]) -> list[str]:
    out = ["## 5. Measurements (mean over seeds; Δ = difference to the model's reference)", "",
           "| Model | Role | " + " | ".join(COLUMNS) + " | Avg gap |", "|---|---|" + "---:|" * (len(COLUMNS) + 1)]
    for row in rows:
        if row.failed:
            out.append(f"| {md_escape(row.name)} | {md_escape(row.role_label)} | "
                       + " | ".join("failed" for _ in COLUMNS) + " | — |")
            continue
        cells = []
        for key in COLUMNS:
            c = row.cells[key]
            text = md_escape(c.text)
            if c.delta is not None:
                text += f" (Δ{fmt_delta(key, c.delta, like=c.mean)})"
            cells.append(text)
        gap = f"{row.avg_gap:.1f}" if row.avg_gap is not None else "—"
        name = f"**{md_escape(row.name)}**" if row.is_user else md_escape(row.name)
        out.append(f"| {name} | {md_escape(row.role_label)} | " + " | ".join(cells) + f" | {gap} |")
    return out + [""]


def _glossary_section(report: "AuditReport") -> list[str]:
    keys = list(dict.fromkeys([*COLUMNS, *(f.metric for f in report.findings)]))
    out = ["## 6. What the measurements mean", ""]
    for k in keys:
        out.append(f"- **{md_escape(k)} — {md_escape(metric_label(k))}:** {md_escape(metric_description(k))} "
                   f"({_direction_words(k)}).")
    out.append(f"- **Avg gap:** 100 minus the mean absolute difference to the reference over "
               f"{', '.join(GAP_KEYS)}; 100 means indistinguishable from the reference retrain.")
    out.append("- **Checks:** `abs<=b` bounds the absolute difference to the reference; `drop<=b` bounds how much "
               "lower the value is than the reference's; `rel<=b` bounds the relative change (0.25 = 25%). WARN "
               "means inside the bound but close to it; SKIP means the metric does not apply to this model or data.")
    return out + [""]


def _environment_section(report: "AuditReport") -> list[str]:
    out = ["## 7. Environment", ""]
    env = report.environment or {}
    if not env:
        return out + ["- not recorded", ""]

    def walk(d: dict[str, Any], prefix: str = "") -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                shown = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                out.append(f"- **{md_escape(prefix + str(k))}:** {md_escape(shown)}")

    walk(env)
    return out + [""]


def render_checklist(report: "AuditReport") -> str:
    """The report as a Markdown compliance checklist (a string)."""
    rows = summary_rows(report)
    order = [r.name for r in rows]
    verdict = report.verdict
    user = report.user_method
    data_name = _get(report.data or {}, "name", "dataset")
    out = ["# Machine-unlearning audit: compliance checklist", "",
           f"> **Overall verdict: {verdict.value}** — {md_escape(verdict_line(report).split(' — ', 1)[-1])}.", ">",
           f"> Audited method: **{md_escape(user) if user else 'all methods of the audit'}** · data: "
           f"{md_escape(data_name or 'not recorded')} · generated "
           f"{md_escape(report.created or 'at an unrecorded time')} by unlearn-audit "
           f"(report schema v{report.schema_version}).", "",
           "This document is the evidence that a trained model was made to *forget* part of its training data (the "
           "forget set). The audited model is compared with a model retrained from scratch without that data: if "
           "it behaves like that retrain (accuracy, privacy, fairness, robustness), the data has had no measurable "
           "remaining influence. Each check below states what was measured, the bound it had to meet, and the "
           "outcome: PASS (the whole confidence interval is inside the bound), FAIL (the whole interval is outside), "
           "INCONCLUSIVE (the interval straddles the bound: the data cannot tell; what would decide it is given), WARN "
           "(inside, but close to the bound), SKIP (does not apply). Boxes: [x] PASS, [!] WARN, [?] INCONCLUSIVE, "
           "[ ] FAIL, [-] SKIP.", ""]
    out += _request_section(report)
    out += _comparison_section(report, rows)

    user_findings = _sorted([f for f in report.findings if f.model == user], order) if user else []
    other = _sorted([f for f in report.findings if f.model != user], order)
    out += [f"## 3. Checks on {md_escape(user) if user else 'the audited methods'}", ""]
    if user:
        if user_findings:
            n_ok = sum(f.status is Status.PASS for f in user_findings)
            out.append(f"{n_ok} of {len(user_findings)} checks passed.")
            out.append("")
            out += [_finding_line(f) for f in user_findings]
        else:
            out.append("- [ ] No check was run on this method (no thresholds configured).")
        out.append("")
    elif other:
        out += _findings_table(other) + [""]
        other = []
    else:
        out += ["- [ ] No check was run (no thresholds configured).", ""]
    out += ["## 4. Checks on the comparison methods", ""]
    out += (_findings_table(other) if other else ["None (no comparison method was checked)."]) + [""]

    failed = [(row.name, s, err) for row in rows for s, err in row.failures]
    if failed:
        out += ["### Models that failed to produce a result", ""]
        out += [f"- **{md_escape(n)}** (seed {s}): {md_escape(err)}" for n, s, err in failed]
        out.append("")

    out += _summary_section(report, rows)
    out += _glossary_section(report)
    out += _environment_section(report)
    out += ["## 8. Limits of this evidence", "",
            "- The checks are empirical: they compare measurable behaviour with a retrained reference on the data "
            "listed above. Passing them is evidence that the forget set has no measurable influence left, not a "
            "mathematical proof that every trace of it is gone.",
            "- Membership-inference figures depend on the attack used; a stronger attack might distinguish more.",
            "- Results hold for the recorded data, seeds and software versions; a change in any of them requires "
            "a new audit.", "",
            f"**Overall verdict: {verdict.value}**", ""]
    out += ["## 9. Review and sign-off", "",
            "| | |", "|---|---|",
            "| Reviewed by (name, role) | |",
            "| Date | |",
            "| Decision (accept / reject / re-audit) | |",
            "| Signature | |", ""]
    return "\n".join(out)
