"""The register from CPR extracts decides 14, 86 and 15 at a running server."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.e2e.conftest import Server, udb
from tests.e2e.soap import answer, example, with_stid
from udb.synthetic import SyntheticPerson, write_extract

AARHUS_YOUNG = "1104094230"  # born 2009, lives in Aarhus
MOVER = "1205084238"  # born 2008, lives in Aarhus, later moves to København
DEAD = "1306074236"
OLD = "1401904232"  # born 1990
UNKNOWN = "1507074230"


def report(
    server: Server, cpr: str, *, system: str = "Vejledningssystem-Aarhus", kui: int = 751001
):  # type: ignore[no-untyped-def]
    body = example("request.xml").replace(b"1503084232", cpr.encode())
    body = body.replace(b"Vejledningssystem-Aarhus", system.encode()).replace(
        b"751001", str(kui).encode()
    )
    return answer(server.post(with_stid(body)))


def import_file(server: Server, path: Path, kind: str) -> str:
    return udb("cpr", "import", str(path), kind, database_url=server.database_url).stdout


def test_reports_are_answered_as_the_register_says(own_server: Server, tmp_path: Path) -> None:
    first = tmp_path / "full.txt"
    write_extract(
        first,
        [
            SyntheticPerson(AARHUS_YOUNG),
            SyntheticPerson(MOVER),
            SyntheticPerson(DEAD, status="90", municipality_code=None),
            SyntheticPerson(OLD),
        ],
        production_date=date(2026, 11, 1),
    )
    assert "4 persons" in import_file(own_server, first, "--full")

    assert report(own_server, AARHUS_YOUNG).ok
    assert report(own_server, MOVER).ok
    assert report(own_server, DEAD).code == 14
    assert report(own_server, OLD).code == 15
    assert report(own_server, UNKNOWN).code == 14
    assert (
        report(own_server, "1503084232").code == 14
    )  # the demo's person is not in the full extract
    assert (
        report(own_server, AARHUS_YOUNG, system="Vejledningssystem-Koebenhavn", kui=101001).code
        == 86
    )

    move = tmp_path / "move.txt"
    write_extract(
        move, [SyntheticPerson(MOVER, municipality_code=101)], production_date=date(2026, 11, 2)
    )
    assert "changed 1" in import_file(own_server, move, "--incremental")

    assert report(own_server, MOVER).code == 86  # Aarhus is no longer the home municipality
    assert report(own_server, MOVER, system="Vejledningssystem-Koebenhavn", kui=101001).ok
    assert report(own_server, AARHUS_YOUNG).ok  # not in the incremental file: unchanged
