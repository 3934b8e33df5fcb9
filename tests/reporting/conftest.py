"""Fixtures of the reporting tests: run folders written without training anything."""

import sys
from pathlib import Path

# The test modules import _report_folders too, under --import-mode=importlib as well.
sys.path.append(str(Path(__file__).parent))

from _report_folders import mitigate_dir, poison_dir, privacy_dir, scan_dir  # noqa: E402

__all__ = ["mitigate_dir", "poison_dir", "privacy_dir", "scan_dir"]
