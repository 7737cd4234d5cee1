"""`--debug` is taken before the subcommand and after it, by every subcommand."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hlsdiff.cli import main

BAD = {
    'compare': ['compare', 'missing.h5', 'missing.npy'],
    'fix': ['fix', 'missing.h5', 'missing.npy'],
    'repro': ['repro', 'missing.h5', 'missing.npy', '--layer', 'dw', '-o', 'out'],
    'report': ['report', 'missing.json'],
    'patch': ['patch', 'missing_project'],
}


@pytest.mark.parametrize('command', sorted(BAD))
@pytest.mark.parametrize('where', ['after', 'before', 'none'])
def test_debug_shows_the_traceback_wherever_it_is_given(command, where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = {'after': BAD[command] + ['--debug'], 'before': ['--debug'] + BAD[command], 'none': BAD[command]}[where]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith('hlsdiff: error: ')
    assert ('Traceback (most recent call last)' in result.stderr) == (where != 'none')


def test_every_subcommand_lists_debug_in_its_help():
    for name in main.commands:
        result = CliRunner().invoke(main, [name, '--help'])
        assert result.exit_code == 0 and '--debug' in result.stdout, name
