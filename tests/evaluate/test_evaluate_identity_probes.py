"""``evaluate identity`` on a folder with one photo a person (issue 22 item 9): nothing to
probe with, said in one line naming the folder and what it needs, before any model loads
(it printed ``rank-1 accuracy -: 0 of 0 probes`` with no hint)."""

from __future__ import annotations

import shutil

from conftest import data_file


def test_one_photo_a_person_says_why_there_are_no_probes(cli, tmp_path):
    for name in ("obama", "biden"):
        shutil.copy(data_file(f"face_recognition/{name}.jpg"), tmp_path / f"{name}.jpg")
    result = cli("evaluate", "identity", tmp_path, "-q")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path}: no probe photos")
    assert "two or more" in lines[0] and result.stdout == ""
