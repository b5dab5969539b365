"""mer.io: a file is written whole or not at all."""

import pytest

from mer.io import read_json, write_atomic, write_json


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_json(tmp_path / "out.json", {"a": 1})

    def broken(tmp):
        tmp.write_text('{"half": ')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_atomic(target, broken)
    assert read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_read_json_of_a_missing_file_is_none(tmp_path):
    assert read_json(tmp_path / "missing.json") is None
