"""Every `demoforge ...` command the README shows parses with the real parser.

Run for real elsewhere: `demoforge demo` (tests/test_demo.py at toy size, and `make demo` with its
defaults); record / check / split on the virtual rig (tests/test_end_to_end.py); train, eval and deploy
(tests/policy); the others have their own tests in tests/collect, tests/quality and tests/demoforge.
Here each shown command must at least be a valid command line: subcommand, options and values.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from demoforge.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
# placeholders the README uses in prose (`DIR`, `RIG`) stand for any value: argparse takes them as such
INLINE = re.compile(r"`(demoforge [^`]+)`")
FENCE = re.compile(r"```sh\n(.*?)```", re.S)  # shell blocks; the others are diagrams


def readme_commands() -> list[str]:
    text = README.read_text()
    found: list[str] = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            for part in line.split("&&"):
                part = part.strip()
                m = re.search(r"(?:^|-m )(demoforge\b.*)", part)
                if m:
                    found.append(m.group(1))
    for span in INLINE.findall(FENCE.sub("", text)):
        if len(span.split()) > 2:  # `demoforge check` alone names a command in prose
            found.append(span)
    return found


def test_the_readme_shows_the_demo_and_the_real_rig_quick_start() -> None:
    subcommands = {shlex.split(c)[1] for c in readme_commands() if len(shlex.split(c)) > 1}
    for name in ("demo", "devices", "calibrate", "record", "check", "split", "train", "deploy", "eval"):
        assert name in subcommands, name


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_parses(command: str) -> None:
    argv = shlex.split(command)[1:]
    args = build_parser().parse_args(argv)  # argparse exits (SystemExit 2) on anything it refuses
    assert args.command == argv[0]
