"""cooc report as a person sees it: the HTML opened in headless Chromium.

Skipped when ``/usr/bin/chromium`` (Debian's ``chromium`` package) is absent;
``make test`` does not install it. Two runs of the browser, both offline
(``--disable-background-networking`` and friends; the page names no URL):

1. ``--dump-dom`` of a copy of the report with a small script appended that,
   once the page has loaded, writes into the DOM each image's
   ``naturalWidth``/``naturalHeight`` and its box on the page, and any error
   the page raised (``window.onerror``);
2. ``--screenshot`` of the report itself (1200 × 4000 pixels), in which each
   image's box, as measured in run 1, must hold non-blank pixels.

The console is read too (``--enable-logging=stderr --v=0``): no
``Uncaught`` error and no ``CONSOLE`` line at error level.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium (/usr/bin/chromium) not installed"
)
WIDTH, HEIGHT = 1200, 4000

PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message));
});
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("img").forEach(function (img) {
    var r = img.getBoundingClientRect();
    out.push({w: img.naturalWidth, h: img.naturalHeight, complete: img.complete,
              box: [r.left + window.scrollX, r.top + window.scrollY,
                    r.width, r.height]});
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({images: out, errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


def chromium(profile, *args, timeout=120):
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False
    )


def console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or ("CONSOLE" in line and "ERROR" in line)
    ]


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    """A report of a small corpus's .cooc and vectors, with a benchmark file."""
    from cooc.cooccurrence import build_cooccurrence
    from cooc.pipeline import embed_cooccurrence
    from cooc.report import assemble_report

    folder = tmp_path_factory.mktemp("browser")
    rng = np.random.default_rng(11)
    words = [f"w{i}" for i in range(50)]
    text = folder / "corpus.txt"
    text.write_text(
        "\n".join(
            " ".join(words[j] for j in rng.zipf(1.4, size=rng.integers(2, 12)) % 50)
            for _ in range(800)
        ),
        encoding="utf-8",
    )
    cooc = build_cooccurrence([text], min_count=1, window_size=4)
    emb, s = embed_cooccurrence(cooc, 8, random_state=0)
    emb.singular_values = s
    sim = folder / "sim.txt"
    sim.write_text("w0\tw1\t8\nw0\tw2\t6\nw3\tw4\t2\nw5\tw9\t4\n", encoding="utf-8")
    report = assemble_report(cooc=cooc, embeddings=emb, similarity=[sim], map_words=40)
    path = folder / "report.html"
    report.save(path)
    return path, len(report.figures)


@pytest.fixture(scope="module")
def probed(report_html, tmp_path_factory):
    """Run 1: the DOM of the report with the probe, after the page has loaded."""
    path, _ = report_html
    folder = tmp_path_factory.mktemp("probe")
    probe = folder / "probe.html"
    probe.write_text(
        path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    run = chromium(
        folder / "profile", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()
    )
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.DOTALL)
    assert found, run.stdout[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    return result, run.stderr


def test_every_image_loads_without_errors(report_html, probed):
    _, n_figures = report_html
    result, stderr = probed
    assert result["errors"] == []
    assert len(result["images"]) == n_figures
    for image in result["images"]:
        assert image["complete"] and image["w"] > 0 and image["h"] > 0, image
    assert console_errors(stderr) == []


def test_screenshot_shows_every_figure(report_html, probed, tmp_path):
    import matplotlib.image

    path, _ = report_html
    boxes = probed[0]["images"]
    shot = tmp_path / "shot.png"
    run = chromium(tmp_path / "profile", f"--screenshot={shot}", path.as_uri())
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert pixels.std() > 0.01
    seen = 0
    for image in boxes:
        left, top, width, height = (round(v) for v in image["box"])
        if top + height > HEIGHT:  # below the screenshot
            continue
        area = pixels[top : top + height, left : left + width]
        assert area.size and area.std() > 0.02, image  # drawn, not blank
        assert (area < 0.5).any(), image  # some dark ink: axes, text
        seen += 1
    assert seen >= 3  # the first figures are on the first 4000 pixels
