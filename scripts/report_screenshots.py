"""Screenshots of the HTML accountability report as its readers see it, for a person to
look at: a desktop browser (1280 px), a phone (390 px) and the printed A4 pages.

    .venv/bin/python scripts/report_screenshots.py REPORT.html OUT_DIR

Needs Debian's chromium (headless). The print is Chromium's own --print-to-pdf; its
pages are rendered to PNG with pypdfium2 and Pillow when installed (pip install
pypdfium2 pillow), else
only the PDF is left. Writes desktop.png, phone.png, print.pdf and print-<n>.png; keeps
nothing in the repository (the PNGs are for looking at, not for committing)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--run-all-compositor-stages-before-draw")
# A screenshot shows the window only: these show the report down to its timeline (the
# list of refunds to do, at the end, runs on); the print shows every page.
VIEWS = {"desktop": (1280, 9000), "phone": (390, 9000)}


def chromium(*args: str) -> None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])


def pdf_pages(pdf: Path, out_dir: Path) -> list[Path]:
    try:
        import PIL.Image  # noqa: F401  (pypdfium2 renders pages through Pillow)
        import pypdfium2
    except ImportError:
        print("pypdfium2 or pillow not installed: the print is only in print.pdf", file=sys.stderr)
        return []
    pages = []
    document = pypdfium2.PdfDocument(str(pdf))
    for index in range(len(document)):
        image = document[index].render(scale=1.4).to_pil()
        path = out_dir / f"print-{index + 1}.png"
        image.save(path)
        pages.append(path)
    return pages


def main(report: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    url = report.resolve().as_uri()
    for name, (width, height) in VIEWS.items():
        chromium(f"--window-size={width},{height}", f"--screenshot={out_dir / name}.png", url)
    pdf = out_dir / "print.pdf"
    chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", url)
    for path in [out_dir / f"{n}.png" for n in VIEWS] + [pdf, *pdf_pages(pdf, out_dir)]:
        print(path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
