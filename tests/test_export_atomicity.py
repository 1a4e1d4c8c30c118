"""kill -9 during an export, at every step of it, leaves the last good export intact and
verifiable, nothing half-written at --out, and the next export into it succeeds.

The child runs export_bundle with one step replaced by "announce, then hang", so each
kill lands at a known moment (the way tests/test_ingest_atomicity.py stops an ingest).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import auditlog
from auditlog.errors import UsageError
from auditlog.export.bundle import export_bundle
from auditlog.export.manifest import MANIFEST, verify
from auditlog.ingest.world import sample_logs_dir
from tests.conftest import kill_when_marked

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from auditlog.export import bundle, staging

    db, out, marker, moment, *formats = sys.argv[1:]

    def hang(*_):
        Path(marker).write_text(moment)
        time.sleep(600)

    def after(real):
        def wrapped(*args):
            done = real(*args)
            hang()
            return done
        return wrapped

    if moment == "writing":  # one file written, the next not yet
        real_entry = bundle.file_entry
        def file_entry(*args):
            if getattr(file_entry, "seen", False):
                hang()
            file_entry.seen = True
            return real_entry(*args)
        bundle.file_entry = file_entry
    elif moment == "complete":  # every file and the manifest written, not yet in place
        bundle.install = hang
    elif moment == "swapped":  # in place; the earlier export not yet removed
        staging.exchange = after(staging.exchange)
    elif moment == "aside":  # no atomic swap: the earlier export set aside, the new not in
        staging.exchange = lambda a, b: False
        real_rename = Path.rename
        def rename(self, target):
            if ".partial-" in self.name:
                hang()
            return real_rename(self, target)
        Path.rename = rename
    bundle.export_bundle(db, Path(out), formats)
    """
)
MOMENTS = ("writing", "complete", "swapped", "aside")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    with auditlog.open(path) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.run()
    return path


def kill_export_at(moment: str, db: Path, out: Path, formats: list[str]) -> None:
    marker = out.parent.parent / f"at-{moment}"
    kill_when_marked(CHILD, [str(db), str(out), str(marker), moment, *formats], marker,
                     f"export (at '{moment}')")


def manifest_of(out: Path) -> dict[str, object]:
    return dict(json.loads((out / MANIFEST).read_text()))


def visible(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_reexport_leaves_the_last_good_export(moment: str, db: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "exports" / "out"
    before = export_bundle(db, out, ["csv"]).as_json()
    kill_export_at(moment, db, out, ["json", "csv"])

    if moment == "aside":
        # Between the two renames --out is briefly missing; the earlier export is whole
        # beside it, and the next export puts it back before anything else.
        (aside,) = [p for p in out.parent.iterdir() if ".previous-" in p.name]
        assert verify(aside).intact and manifest_of(aside) == before
    else:
        assert verify(out).intact
        # Until the new export is in place, the old one is there untouched; after, the
        # new one is, whole.
        assert manifest_of(out)["formats"] == (["csv", "json"] if moment == "swapped"
                                               else ["csv"])
    assert visible(out.parent) == (["out"] if moment != "aside" else [])

    again = export_bundle(db, out, ["json"]).as_json()
    assert verify(out).intact and manifest_of(out) == again
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # leftovers cleared


@pytest.mark.parametrize("moment", ["writing", "complete"])
def test_a_killed_first_export_leaves_nothing_in_the_way(moment: str, db: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "exports" / "out"
    kill_export_at(moment, db, out, ["csv", "json"])
    assert visible(out.parent) == []  # only a hidden partial directory, never --out
    export_bundle(db, out, ["csv"])
    assert verify(out).intact
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_the_cli_exports_into_a_folder_a_killed_export_left(db: Path, tmp_path: Path) -> None:
    # What exports killed before they were staged left: the files, no manifest (or half
    # of one). Those are export files, so the next export may replace them.
    out = tmp_path / "out"
    export_bundle(db, out, ["csv", "json"])
    (out / MANIFEST).unlink()
    (out / "findings.json").write_text("[{\"finding_id\": ")  # cut off mid-write
    result = subprocess.run([sys.executable, "-m", "auditlog", "export", "--db", str(db),
                             "--out", str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert verify(out).intact and manifest_of(out)["formats"] == ["csv"]
    assert not (out / "findings.json").exists()  # files of the dead export are gone


def test_a_folder_with_other_files_is_still_refused_and_kept(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_bundle(db, out, ["csv"])
    (out / MANIFEST).write_text("{")  # a broken manifest is no licence to delete notes.txt
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="no earlier export"):
        export_bundle(db, out, ["csv"])
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_live_exports_side_directory_is_left_alone(db: Path, tmp_path: Path) -> None:
    # Another export to the same target, still running (its pid is alive: ours).
    out = tmp_path / "exports" / "out"
    live = out.parent / f".out.partial-{os.getpid()}-feedbeef"
    live.mkdir(parents=True)
    export_bundle(db, out, ["csv"])
    assert live.is_dir() and verify(out).intact
    shutil.rmtree(live)


def test_an_empty_directory_is_filled_in_place(db: Path, tmp_path: Path) -> None:
    # A directory the user made (the current one, a mount point) stays where it is.
    out = tmp_path / "mine"
    out.mkdir()
    inode = out.stat().st_ino
    result = subprocess.run([sys.executable, "-m", "auditlog", "export", "--db", str(db),
                             "--out", "."], cwd=out, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_ino == inode and verify(out).intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
