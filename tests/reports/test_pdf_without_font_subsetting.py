"""A machine without libharfbuzz-subset0 still makes PDF reports, and says why they are slower."""

from __future__ import annotations

import subprocess
import sys

from pypdf import PdfReader

# Run in a fresh interpreter with every warning an error (as the suite and a strict deployment
# do), where loading the HarfBuzz-Subset library fails as it does on a machine without it.
WITHOUT_SUBSET = """
import io, logging, sys, warnings
import cffi

real_dlopen = cffi.FFI.dlopen

def dlopen(self, name, *args, **kwargs):
    if "harfbuzz-subset" in str(name):
        raise OSError(f"cannot load {name}: not installed")
    return real_dlopen(self, name, *args, **kwargs)

cffi.FFI.dlopen = dlopen
warnings.simplefilter("error")
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

from im2.reports.document import html_to_pdf

sys.stdout.buffer.write(html_to_pdf("<html><body><p>山野咖啡 report</p></body></html>"))
"""


def test_a_pdf_is_made_without_harfbuzz_subset_and_the_log_says_what_to_install(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_SUBSET], capture_output=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.startswith(b"%PDF")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(run.stdout)
    assert "report" in PdfReader(pdf).pages[0].extract_text()
    assert b"libharfbuzz-subset0" in run.stderr
