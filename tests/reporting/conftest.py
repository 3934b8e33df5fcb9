"""Fixtures of the reporting tests: run folders written without training anything."""

from _report_folders import mitigate_dir, poison_dir, privacy_dir, scan_dir

__all__ = ["mitigate_dir", "poison_dir", "privacy_dir", "scan_dir"]
