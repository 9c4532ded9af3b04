"""Quality checks over recorded episodes, the per-dataset report, and curated splits.

The checks are listed once, in `checks.CHECKS` (docs/quality-checks.md is rendered from it).

report = check_dataset("data/pick_cube", load_thresholds("thresholds.toml"), jobs=4)
write_report_json("data/pick_cube", report); write_report_html("data/pick_cube", report)
make_splits("data/pick_cube", val=0.1, seed=0)   # -> splits.json
schemas.splits.verify_split("data/pick_cube")    # what the trainer does: ConfigError when stale
"""

from demoforge.quality.checks import CHECK_IDS, CHECKS, Check
from demoforge.quality.findings import ERROR, WARNING, Finding
from demoforge.quality.report_html import write_report_html
from demoforge.quality.report_json import report_to_json, write_report_json
from demoforge.quality.runner import EpisodeResult, Report, check_dataset, check_episode
from demoforge.quality.split import make_splits
from demoforge.quality.thresholds import Thresholds, load_thresholds

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "ERROR",
    "WARNING",
    "Check",
    "EpisodeResult",
    "Finding",
    "Report",
    "Thresholds",
    "check_dataset",
    "check_episode",
    "load_thresholds",
    "make_splits",
    "report_to_json",
    "write_report_html",
    "write_report_json",
]
