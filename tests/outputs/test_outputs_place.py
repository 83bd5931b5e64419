"""``--out`` may not be the folder of the videos (issue 22 item 9): the rule
:func:`feelinvideo.outputs.place.refuse_video_folder`, with real paths."""

from __future__ import annotations

import os

import pytest

from feelinvideo.errors import OutputError
from feelinvideo.outputs.place import refuse_video_folder


def test_the_video_folder_itself_is_refused_however_it_is_named(tmp_path, monkeypatch):
    term = tmp_path / "my term"
    term.mkdir()
    (tmp_path / "link").symlink_to(term)
    monkeypatch.chdir(term)
    for out in (term, f"{term}{os.sep}", ".", tmp_path / "link", tmp_path / "x" / ".." / "my term"):
        with pytest.raises(OutputError, match="is the folder of the videos") as raised:
            refuse_video_folder(out, [term])
        assert str(out) in str(raised.value) and "my term_feelinvideo" in str(raised.value)


def test_other_folders_and_folders_inside_are_allowed(tmp_path):
    term = tmp_path / "term"
    term.mkdir()
    for out in (term / "runs", tmp_path / "term_runs", tmp_path, tmp_path / "new" / "deep"):
        refuse_video_folder(out, [term])  # no error
    refuse_video_folder(term, [])
