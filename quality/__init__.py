"""Quality checks over recorded episodes, the per-dataset report, and curated splits.

report = check_dataset("data/pick_cube", load_thresholds("thresholds.toml"), jobs=4)
write_report_json("data/pick_cube", report); write_report_html("data/pick_cube", report)
make_splits("data/pick_cube", val=0.1, seed=0)   # -> splits.json
verify_split("data/pick_cube")                    # ConfigError when files or report changed
"""

from quality.findings import CHECK_IDS, ERROR, WARNING, Finding
from quality.report_html import write_report_html
from quality.report_json import load_report_json, report_to_json, write_report_json
from quality.runner import EPISODE_CHECKS, EpisodeResult, Report, check_dataset, check_episode
from quality.split import make_splits, verify_split
from quality.thresholds import Thresholds, load_thresholds

__all__ = [
    "CHECK_IDS",
    "EPISODE_CHECKS",
    "ERROR",
    "WARNING",
    "EpisodeResult",
    "Finding",
    "Report",
    "Thresholds",
    "check_dataset",
    "check_episode",
    "load_report_json",
    "load_thresholds",
    "make_splits",
    "report_to_json",
    "verify_split",
    "write_report_html",
    "write_report_json",
]
