"""The `tying` command run in-process, as the tests of its subcommands call it."""
from tying.experiments.cli import main


def run_cli(capsys, *argv) -> tuple:
    """(exit code, stdout, stderr) of ``tying ARGV``; argparse's errors exit through SystemExit."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err
