"""The run framework: versions and rectification, schema failures, a run killed half way, the sweeper, the command, schedules."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask
from lxml import etree

from apps.core import clock
from apps.reports import csv_reports
from apps.reports.dgoj import validate_file
from apps.reports.models import ReportRun, RunStatus
from apps.reports.registry import ReportInvalid
from apps.reports.services import report_run_request, report_run_sweep_stale

from .conftest import DAY1, run_report

NS = {"d": "http://cnjuego.gob.es/sci/v3.3.xsd"}


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_second_run_is_a_new_version_and_a_valid_rectification_of_the_first(world):
    first = run_report("dgoj_cjd_daily", DAY1.isoformat())
    second = run_report("dgoj_cjd_daily", DAY1.isoformat())
    assert (first.version, second.version, second.supersedes_id) == (1, 2, first.pk)
    assert first.status == second.status == RunStatus.DONE
    assert first.file.name != second.file.name and Path(first.file.path).exists()  # never an overwrite
    root = etree.parse(second.file.path).getroot()
    rect = root.find("d:Registro/d:Cabecera/d:Rectificacion", NS)
    assert rect.findtext("d:RegistroId", namespaces=NS) == first.record_id != second.record_id
    assert rect.findtext("d:RegistroFecha", namespaces=NS) == first.started_at.astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Madrid")
    ).strftime("%Y%m%d%H%M%S")  # the schema's date-aaaammddhhmmss: Madrid time, no offset
    validate_file(Path(second.file.path))  # the rectification is itself valid against our schema


def test_every_dgoj_type_is_valid_against_our_own_schema(world):
    """xsd/dgoj_monitoring_v3_3.xsd is the project's own schema; no copy of the regulator's file is kept."""
    from apps.reports.dgoj import XSD_PATH
    from apps.reports.registry import XSD_DIR

    assert XSD_PATH.name == "dgoj_monitoring_v3_3.xsd"
    assert not (XSD_DIR / "regulator").exists()
    assert "OUR OWN schema" in XSD_PATH.read_text()
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    for code, period in (("dgoj_rud_daily", DAY1.isoformat()), ("dgoj_cjd_daily", DAY1.isoformat()),
                         ("dgoj_rud_monthly", "2026-11"), ("dgoj_cjd_monthly", "2026-11")):
        run = run_report(code, period)
        assert run.status == RunStatus.DONE, (code, run.error)
        document = etree.parse(run.file.path)
        assert schema.validate(document), (code, [str(e) for e in schema.error_log][:5])
        assert document.getroot().findall(".//d:Jugador", NS), code


def _broken_copy(run, tmp_path, breaks) -> Path:
    tree = etree.parse(run.file.path)
    breaks(tree.getroot())
    broken = tmp_path / "broken.xml"
    tree.write(str(broken))
    return broken


def _set(path: str, value: str):
    def breaks(root):
        root.find(path, NS).text = value

    return breaks


def _remove(path: str):
    def breaks(root):
        element = root.find(path, NS)
        element.getparent().remove(element)

    return breaks


def _keep_two_limits(root):
    jugador = root.find("d:Registro/d:Jugador", NS)
    for limit in jugador.findall("d:LimitesJugador", NS)[2:]:
        jugador.remove(limit)


@pytest.mark.parametrize(
    ("code", "breaks", "expected"),
    [
        ("dgoj_cjd_daily", _remove("d:Registro/d:Jugador/d:SaldoFinal"), "Cuentas"),  # order is validity
        ("dgoj_cjd_daily", _set("d:Registro/d:Jugador/d:SaldoInicial/d:Linea/d:Cantidad", "10.5"), "Cantidad"),  # two decimals
        ("dgoj_cjd_daily", _set("d:Registro/d:Jugador/d:Depositos/d:Total", "-1.00"), "Total"),  # sign is the block's
        ("dgoj_cjd_daily", _set("d:Registro/d:Jugador/d:Participacion/d:Desglose/d:TipoJuego", "ADC"), "TipoJuego"),
        ("dgoj_cjd_daily", _set("d:Registro/d:Jugador/d:Depositos/d:Operaciones/d:Fecha", "20261110250000+0100"), "Fecha"),
        ("dgoj_cjd_daily", _set("d:Registro/d:Cabecera/d:Fecha", "20261110100000+0100"), "Fecha"),  # headers: no offset
        ("dgoj_cjd_daily", _set("d:Registro/d:Periodo/d:Dia", "20261310"), "Dia"),
        ("dgoj_rud_daily", _set("d:Registro/d:Jugador/d:Residente/d:Documento", "1234"), "Documento"),  # not a DNI/NIE
        ("dgoj_rud_daily", _set("d:Registro/d:Jugador/d:Estado/d:EstadoCNJ", "X"), "EstadoCNJ"),
        ("dgoj_rud_daily", _set("d:Registro/d:Jugador/d:JugadorId", "42"), "JugadorId"),
        ("dgoj_rud_daily", _keep_two_limits, "LimitesJugador"),  # the 3 mandatory deposit limits
        ("dgoj_rud_daily", _set("d:Cabecera/d:Version", "3.2"), "Version"),
    ],
)
def test_the_schema_check_fails_a_broken_document_with_its_errors(world, tmp_path, code, breaks, expected):
    run = run_report(code, DAY1.isoformat())
    validate_file(Path(run.file.path))  # the file as produced is valid ...
    with pytest.raises(ReportInvalid) as excinfo:
        validate_file(_broken_copy(run, tmp_path, breaks))  # ... and this one change makes it invalid
    assert any(expected in error for error in excinfo.value.errors), excinfo.value.errors
    assert all(error.startswith("line ") for error in excinfo.value.errors)


def test_a_sub_record_holds_at_most_1000_players(world, tmp_path):
    run = run_report("dgoj_rud_daily", DAY1.isoformat())

    def thousand_and_one(root):
        registro = root.find("d:Registro", NS)
        jugador = registro.find("d:Jugador", NS)
        for _ in range(1001 - len(registro.findall("d:Jugador", NS))):
            registro.append(__import__("copy").deepcopy(jugador))

    with pytest.raises(ReportInvalid) as excinfo:
        validate_file(_broken_copy(run, tmp_path, thousand_and_one))
    assert any("Jugador" in error for error in excinfo.value.errors)


def test_a_writer_that_breaks_the_schema_fails_the_run_with_the_errors(world, monkeypatch, private_media):
    from apps.reports import dgoj

    monkeypatch.setattr(dgoj, "cantidad", lambda minor, currency: f"{minor}")  # no decimals
    run = run_report("dgoj_cjd_daily", DAY1.isoformat())
    assert run.status == RunStatus.FAILED
    assert "fails its schema" in run.error and "Cantidad" in run.error
    assert not run.file and _stored_files(private_media / "reports") == []


def test_a_file_failing_its_schema_makes_the_run_failed_with_the_errors_and_no_file(world, settings, private_media):
    from apps.markets.models import Market
    from apps.markets.selectors import clear_policy_cache

    Market.objects.filter(code="dgoj").update(report_fiscal_region="")  # RegionFiscal must be one of 01-22
    clear_policy_cache()
    run = run_report("dgoj_rud_daily", DAY1.isoformat())
    assert run.status == RunStatus.FAILED
    assert "RegionFiscal" in run.error and "fails its schema" in run.error
    assert not run.file and _stored_files(private_media / "reports") == []


def test_a_run_killed_half_way_is_failed_and_leaves_no_file(world, monkeypatch, private_media):
    def rows_then_crash(self, *, period):
        yield ("1",) * len(self.header)
        yield ("2",) * len(self.header)
        raise MemoryError("worker killed")

    monkeypatch.setattr(csv_reports.LedgerJournalDaily, "rows", rows_then_crash)
    run = run_report("ledger_journal_daily", DAY1.isoformat())
    assert run.status == RunStatus.FAILED
    assert "worker killed" in run.error
    assert (run.file.name, run.sha256, run.rows) == ("", "", 0)
    assert _stored_files(private_media / "reports") == []  # neither the partial file nor a stored one
    assert [h.status for h in run.history.order_by("history_id")] == ["queued", "running", "failed"]


def test_a_stale_running_run_is_failed_and_queued_again_by_the_sweeper(world, django_capture_on_commit_callbacks, private_media):
    import os

    partial_dir = private_media / "reports" / ".partial"
    partial_dir.mkdir(parents=True, exist_ok=True)
    abandoned, current = partial_dir / "ggr_daily-1-dead.csv", partial_dir / "ggr_daily-2-live.csv"
    abandoned.write_text("half a file")
    current.write_text("being written")
    three_hours_ago = (clock.now() - timedelta(hours=3)).timestamp()
    os.utime(abandoned, (three_hours_ago, three_hours_ago))
    run = report_run_request(report_type="ggr_daily", period=DAY1.isoformat(), enqueue=False)
    ReportRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=clock.now() - timedelta(hours=3))
    fresh = report_run_request(report_type="ggr_daily", period="2026-11-11", enqueue=False)
    ReportRun.objects.filter(pk=fresh.pk).update(status=RunStatus.RUNNING, started_at=clock.now())
    with django_capture_on_commit_callbacks(execute=True):
        (retry,) = report_run_sweep_stale()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "worker stopped" in run.error
    retry.refresh_from_db()
    assert (retry.report_type, retry.period, retry.version, retry.status) == ("ggr_daily", "2026-11-10", 2, RunStatus.DONE)
    assert ReportRun.objects.get(pk=fresh.pk).status == RunStatus.RUNNING  # a live run is left alone
    assert (abandoned.exists(), current.exists()) == (False, True)  # only the dead worker's temp file goes


def test_a_redelivered_task_does_not_run_twice(world):
    from apps.reports.services import report_run_execute

    run = run_report("ggr_daily", DAY1.isoformat())
    again = report_run_execute(run_id=run.pk)
    assert (again.status, again.sha256, again.file.name) == (RunStatus.DONE, run.sha256, run.file.name)


def test_sha256_is_the_files(world):
    import hashlib

    run = run_report("ledger_journal_daily", DAY1.isoformat())
    assert hashlib.sha256(Path(run.file.path).read_bytes()).hexdigest() == run.sha256


def test_report_run_command_prints_the_path(world, tmp_path):
    out = io.StringIO()
    call_command("report_run", "dgoj_cjd_daily", "--period", DAY1.isoformat(), "--out", str(tmp_path), stdout=out)
    path = Path(out.getvalue().strip())
    assert path.parent == tmp_path and path.name.startswith("OP01_ALM01_CJ_CJD_D_20261110_")
    validate_file(path)
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("report_run", "dgoj_cjd_monthly", "--period", "2026-11-01", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Unknown report type"):
        call_command("report_run", "nope", "--period", "2026-11", stdout=io.StringIO())


@pytest.mark.django_db
def test_schedules_exist_in_madrid_time_and_ask_for_the_last_complete_period():
    import json

    task = PeriodicTask.objects.get(name="reports: dgoj_cjd_daily")
    assert task.task == "apps.reports.tasks.scheduled_report"
    assert json.loads(task.kwargs)["report_type"] == "dgoj_cjd_daily"
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("2", "15", "Europe/Madrid")
    assert int(task.crontab.hour) < 4  # daily files are due by 04:00
    assert PeriodicTask.objects.filter(name="reports: fail and re-queue stale runs", enabled=True).exists()
    quarterly = PeriodicTask.objects.get(name="reports: ukgc_quarterly")
    assert json.loads(quarterly.kwargs)["report_type"] == "ukgc_quarterly"
    assert (quarterly.crontab.month_of_year, quarterly.crontab.day_of_month, str(quarterly.crontab.timezone)) == (
        "1,4,7,10", "1", "Europe/London"
    )


def test_a_run_lost_by_its_worker_is_retried_in_time_for_the_0400_deadline():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from apps.reports.services import STALE_AFTER

    started = datetime(2026, 11, 12, 2, 15, tzinfo=ZoneInfo("Europe/Madrid"))  # the CJD daily schedule
    # Found by the sweeper (every 15 minutes) at the latest 15 minutes after it became stale, and produced again
    # (minutes for a day's file) well before 04:00.
    assert started + STALE_AFTER + timedelta(minutes=15) <= started.replace(hour=3, minute=30)


@pytest.mark.django_db
def test_a_scheduled_run_covers_yesterday_in_madrid(private_media):
    from datetime import date

    from apps.reports.services import report_run_scheduled

    run = report_run_scheduled(report_type="dgoj_rud_daily", schedule_name="reports: dgoj_rud_daily", today=date(2026, 11, 12))
    assert (run.period, run.schedule_name) == ("2026-11-11", "reports: dgoj_rud_daily")
    monthly = report_run_scheduled(report_type="dgoj_cjd_monthly", schedule_name="x", today=date(2026, 12, 1))
    assert monthly.period == "2026-11"
