"""The `mer` command's contract: bad input and file-system trouble are one `error: ...` line and exit status 2."""

from __future__ import annotations

import pytest

from mer.cli import main


def test_a_folder_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["synth", "--out", str(blocker / "data"), "--subjects", "1", "--per-class", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(blocker) in err[0]


def test_every_subcommand_has_help(capsys):
    for command in ("synth", "preprocess", "train", "evaluate", "merge", "predict"):
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        assert f"mer {command}" in capsys.readouterr().out
