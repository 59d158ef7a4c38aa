"""The HTML report in a real browser (headless Chromium): it fits 800 px without sideways scrolling and every
embedded plot decodes. Skipped, with the reason, where Chromium is not installed (``.ci/run`` installs it)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import pytest

from unlearn_audit.report._html import render_html

from ._make_report import make_report

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install "
                                                          "chromium; .ci/run installs it when it can)")

# Test-only probe: after layout, write the page width and every image's decoded size into the DOM. The report
# itself has no script (its Content-Security-Policy forbids any), so the probe copy drops that policy.
_PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images].map(i => i.naturalWidth + 'x' + i.naturalHeight).join(' ');
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 801
      && !e.closest('.scroll')).slice(0, 5).map(e => e.tagName + '.' + e.className).join(' ');
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = 'scrollWidth=' + document.documentElement.scrollWidth + ';imgs=' + imgs + ';wide=' + wide;
  document.body.appendChild(out);
});
</script>"""


def _browse(html: str, tmp_path, *, width: int) -> str:
    probe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace("</head>",
                                                                                         _PROBE + "</head>")
    page = tmp_path / "probe.html"
    page.write_text(probe, encoding="utf-8")
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--mute-audio",
           f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},2000", "--virtual-time-budget=5000",
           "--dump-dom", page.as_uri()]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.skip("headless Chromium did not answer within 90 s")
    m = re.search(r'<pre id="probe">([^<]*)</pre>', res.stdout)
    if m is None:
        pytest.skip(f"headless Chromium could not render the page (exit {res.returncode}): {res.stderr[-400:]}")
    return m.group(1)


@pytest.fixture(scope="module")
def report_html():
    return render_html(make_report(seeds=(0, 1), failed_method=None))


def test_page_fits_800px_and_images_decode(report_html, tmp_path):
    from PIL import Image

    probe = _browse(report_html, tmp_path, width=800)
    fields = dict(part.split("=", 1) for part in probe.split(";"))
    assert int(fields["scrollWidth"]) <= 800, f"the page scrolls sideways at 800 px: {probe}"
    assert not fields["wide"], f"elements outside a scrolling box stick out of 800 px: {fields['wide']}"
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', report_html)
    sizes = fields["imgs"].split()
    assert len(pngs) == len(sizes) == 4
    for b64, size in zip(pngs, sizes):
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        img.load()  # decodes every pixel; a truncated or corrupt PNG raises
        assert f"{img.width}x{img.height}" == size  # the browser decoded the same image
        assert img.width >= 300 and img.height >= 200
