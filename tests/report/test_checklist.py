"""The Markdown compliance checklist: every finding, the evidence of the request, escaping."""

from __future__ import annotations

import re

from unlearn_audit.report import Status
from unlearn_audit.report._checklist import md_escape, render_checklist

from ._make_report import make_report
from .conftest import EVIL


def test_contains_every_finding(full_report):
    md = render_checklist(full_report)
    lines = md.splitlines()
    for f in full_report.findings:
        status = f"**{f.status.value}**" if f.status in (Status.FAIL, Status.INCONCLUSIVE) else f.status.value
        hits = [ln for ln in lines if md_escape(f.model) in ln and f"`{f.check}`" in ln and status in ln]
        assert len(hits) == 1, f"finding {f.model} {f.check} appears {len(hits)} times"
    # the user's checks are a checklist; the others a table
    failed = next(f for f in full_report.findings if f.model == "my_unlearn" and f.status is Status.FAIL)
    assert f"- [ ] **FAIL** · my_unlearn · `{failed.check}`" in md
    # distinct boxes: a printed checklist tells INCONCLUSIVE from FAIL and PASS
    inconclusive = [f for f in full_report.findings if f.model == "my_unlearn" and f.status is Status.INCONCLUSIVE]
    for f in inconclusive:
        assert f"- [?] **INCONCLUSIVE** · my_unlearn · `{f.check}`" in md
    assert "What would decide it:" in md or not inconclusive
    assert md.count("| PASS | finetune |") == sum(f.model == "finetune" and f.status is Status.PASS
                                                  for f in full_report.findings)


def test_evidence_of_the_request(full_report):
    md = render_checklist(full_report)
    assert md.startswith("# Machine-unlearning audit: compliance checklist")
    assert "**Overall verdict: FAIL**" in md
    assert "120 samples (3% of the training set)" in md
    assert f"`{full_report.data['fingerprint']['forget_idx']}`" in md
    assert "Reference model retrain:" in md and "Reference model retrain+reweight:" in md
    assert "**Seeds:** 0, 1, 2" in md
    for key in ("torch", "python", "device"):
        assert f"**{key}:** {full_report.environment[key]}" in md
    assert "random_label** (seed 0): RuntimeError" in md
    assert "## 8. Limits of this evidence" in md


def test_tables_keep_their_columns(evil_report):
    md = render_checklist(evil_report)
    for block in re.findall(r"(?:^\|.*\|$\n?)+", md, flags=re.M):
        rows = block.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", r)) for r in rows}
        assert len(widths) == 1, f"a user string broke a table:\n{block}"


def test_user_strings_escaped(evil_report):
    md = render_checklist(evil_report)
    outside_code = re.sub(r"`[^`]*`", "", md.replace("\\`", ""))
    assert not re.search(r"(?<!\\)<", outside_code), "an unescaped < outside code spans (raw HTML)"
    assert EVIL not in md
    assert md_escape(EVIL) in md and "\\<img src=x onerror=alert(2)\\>" in md
    assert "fine\\|tune\\$x\\$\\_\\*" in md


def test_no_user_method_and_no_findings():
    md = render_checklist(make_report(user_method=None, findings=False, failed_method=None, seeds=(3,)))
    assert "## 3. Checks on the audited methods" in md and "No check was run" in md
    assert "**Seeds:** 3" in md and "**Overall verdict: PASS**" in md


def test_missing_fingerprint_is_flagged():
    r = make_report(seeds=(0,))
    r.data.pop("fingerprint")
    assert "**not recorded** — the erasure request cannot be matched" in render_checklist(r)


def test_md_escape():
    assert md_escape("my_unlearn") == "my_unlearn"  # intraword underscores stay readable
    assert md_escape("_x_") == "\\_x\\_"
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("**b** `c` [l](u) <i> ~s~ $m$ &amp;") == (
        "\\*\\*b\\*\\* \\`c\\` \\[l\\](u) \\<i\\> \\~s\\~ \\$m\\$ \\&amp;")
    assert md_escape("two\nlines") == "two lines"


def test_to_checklist_writes_file(tmp_path, full_report):
    path = full_report.to_checklist(tmp_path / "checklist.md")
    assert path.read_text(encoding="utf-8") == render_checklist(full_report)


def test_checklist_names_the_request_the_weights_and_has_sign_off_fields():
    from unlearn_audit.report._checklist import render_checklist

    from ._make_report import make_report

    report = make_report()
    report.config["request_id"] = "ticket-42"
    for r in report.rows:
        r.fingerprint = f"{r.name}-{r.seed}".ljust(64, "0")
    text = render_checklist(report)
    assert "| Erasure request id | ticket\\-42 |" in text or "| Erasure request id | ticket-42 |" in text
    assert "Audited model weights (my" in text and "`my" in text
    assert "Original model weights (original)" in text and "`original-0" in text
    assert "Reference weights (retrain)" in text and "seed 1: `retrain-1" in text
    for field in ("Reviewed by (name, role)", "Date", "Decision (accept / reject / re-audit)", "Signature"):
        assert f"| {field} | |" in text
    assert "[x] PASS, [!] WARN, [?] INCONCLUSIVE, [ ] FAIL, [-] SKIP" in text   # a distinct box per outcome


def test_checklist_says_when_no_request_id_or_fingerprint_was_recorded():
    from unlearn_audit.report._checklist import render_checklist

    from ._make_report import make_report

    text = render_checklist(make_report())
    assert "Erasure request id | **not recorded**" in text and "Audited model weights" in text

