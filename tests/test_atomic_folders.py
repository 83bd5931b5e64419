"""staged_folder replaces a folder of outputs (e.g. thumbnails/) whole on a re-run."""

from __future__ import annotations

from feelinvideo.atomic import staged_folder


def test_a_staged_subfolder_replaces_the_earlier_one(tmp_path):
    out = tmp_path / "run"
    for names in (["a.jpg", "b.jpg"], ["c.jpg"]):
        with staged_folder(out) as stage:
            (stage / "thumbnails").mkdir()
            for name in names:
                (stage / "thumbnails" / name).write_bytes(b"x")
            (stage / "summary.json").write_text("{}")
    assert sorted(p.name for p in (out / "thumbnails").iterdir()) == ["c.jpg"]
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "thumbnails"]
