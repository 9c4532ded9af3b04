"""`demoforge`: one subcommand per module in `demoforge/commands/`, listed in COMMANDS.

Each command module has `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
Errors a user can cause (`schemas.UserError`, and an OSError from a folder one may not write or a full
disk) become one message and exit code 2; bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from rich.console import Console
from rich.markup import escape

from demoforge import __version__
from demoforge.commands import (
    accept_cmd,
    calibrate_cmd,
    check_cmd,
    demo_cmd,
    deploy_cmd,
    devices_cmd,
    eval_cmd,
    export_cmd,
    export_policy_cmd,
    inspect_cmd,
    label_cmd,
    record_cmd,
    recover_cmd,
    restore_cmd,
    split_cmd,
    teleop_cmd,
    train_cmd,
    view_cmd,
)
from demoforge.schemas.errors import UserError
from demoforge.schemas.writable import environment_error

COMMANDS: list[ModuleType] = [
    demo_cmd,
    record_cmd,
    teleop_cmd,
    recover_cmd,
    check_cmd,
    split_cmd,
    label_cmd,
    accept_cmd,
    export_cmd,
    inspect_cmd,
    view_cmd,
    restore_cmd,
    calibrate_cmd,
    devices_cmd,
    train_cmd,
    deploy_cmd,
    eval_cmd,
    export_policy_cmd,
]

EPILOG = """examples:
  demoforge inspect data/pick_cube            # a dataset: episodes, lengths, completeness
  demoforge inspect data/pick_cube/episode_0.hdf5
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demoforge",
        description="Record robot demonstrations, check their quality, train ACT on the ones that pass.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"demoforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in COMMANDS:
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=mod.HELP,
            epilog=getattr(mod, "EXAMPLES", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except UserError as e:
        return _user_error(e)
    except OSError as e:  # a folder one may not write, a full disk: the user's to fix, not a bug
        mapped = environment_error(e)
        if mapped is None:
            raise
        return _user_error(mapped)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _user_error(e: UserError) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print(f"[bold red]error:[/] {escape(e.message)}")
    if e.hint:
        err.print(f"[bold]fix:[/] {escape(e.hint)}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
