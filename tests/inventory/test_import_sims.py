"""manage.py import_sims: all or nothing, every bad line reported by number."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.history import Actor
from inventory.models import IMSI, Endpoint, History, State
from inventory.sim_import import ImportRejected, import_sims
from tests.factories import EndpointFactory, IMSIFactory, iccid_for, imsi_for

pytestmark = pytest.mark.django_db

HEADER = "iccid,imsis,name,reference,tags\n"


def run(tmp_path, text: str, *args, account: str = "vantiq") -> tuple[str, str]:
    path = tmp_path / "sims.csv"
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_sims", str(path), *args, account=account, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rejected(tmp_path, text: str, *args) -> list[str]:
    path = tmp_path / "sims.csv"
    path.write_text(text, encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_sims", str(path), *args, account="vantiq", stdout=StringIO(), stderr=err
        )
    return err.getvalue().splitlines()


def bad_luhn(iccid: str) -> str:
    return iccid[:-1] + str((int(iccid[-1]) + 1) % 10)


def test_a_clean_file_becomes_pending_endpoints_with_imsis_and_history(tmp_path, account):
    text = HEADER + (
        f"{iccid_for(9001)},{imsi_for(9001)};{imsi_for(9002)},Car 1,VIN-1,Fleet:A;eu\n"
        f"{iccid_for(9002)},{imsi_for(9003)},,,\n"
    )
    out, err = run(tmp_path, text)

    assert "2 endpoints with 3 IMSIs imported as Pending into Vantiq Connect" in out
    assert err == ""
    first = Endpoint.objects.get(iccid=iccid_for(9001))
    assert (first.account, first.state, first.name, first.reference) == (
        account,
        State.PENDING,
        "Car 1",
        "VIN-1",
    )
    assert first.tags == ["fleet:a", "eu"]
    assert first.primary_group is None and first.terminated_at is None
    assert sorted(first.imsis.values_list("imsi", flat=True)) == [imsi_for(9001), imsi_for(9002)]
    assert set(IMSI.objects.values_list("account", flat=True)) == {account.pk}
    history = History.objects.filter(endpoint__account=account)
    assert history.count() == 2
    assert set(history.values_list("action", "actor_kind", "to_state")) == {
        ("created", "system", "pending")
    }
    assert len(set(history.values_list("batch", flat=True))) == 1
    # The reserved ids continue the sequence: an ordinary insert afterwards works.
    assert EndpointFactory(account=account).pk > first.pk


def test_every_bad_line_is_reported_and_nothing_is_written(tmp_path, account, other_account):
    EndpointFactory(account=other_account, iccid=iccid_for(5), imsis=0)
    IMSIFactory(endpoint__account=other_account, imsi=imsi_for(77))
    lines = [
        f"{iccid_for(101)},{imsi_for(101)},good,,",  # line 2
        f"89AB{iccid_for(102)[4:]},{imsi_for(102)},,,",  # 3: letters
        f"{bad_luhn(iccid_for(103))},{imsi_for(103)},,,",  # 4: check digit
        f"{iccid_for(101)},{imsi_for(104)},,,",  # 5: ICCID repeats line 2
        f"{iccid_for(5)},{imsi_for(105)},,,",  # 6: ICCID in the database (other account)
        f"{iccid_for(106)},{imsi_for(77)},,,",  # 7: IMSI in the database
        f"{iccid_for(107)},12345,,,",  # 8: IMSI too short
        f"{iccid_for(108)},{imsi_for(108)},,," + ";".join(f"t{i}" for i in range(21)),  # 9
        f"{iccid_for(109)},{imsi_for(101)},,,",  # 10: IMSI repeats line 2
        f"{iccid_for(110)},,,,",  # 11: no IMSI
        f"{iccid_for(111)},{imsi_for(111)},{'x' * 101},,",  # 12: name too long
        f"{iccid_for(112)},{imsi_for(112)},ok,,bad tag!",  # 13: invalid tag
    ]
    before = (Endpoint.objects.count(), IMSI.objects.count(), History.objects.count())

    errors = rejected(tmp_path, HEADER + "\n".join(lines) + "\n")

    assert [line.split(": ", 2)[1] for line in errors] == [f"line {n}" for n in range(3, 14)]
    text = "\n".join(errors)
    assert "line 3: ICCID" in text and "digits only" in text
    assert "line 4: ICCID" in text and "check digit" in text
    assert f"line 5: ICCID {iccid_for(101)} is already on line 2" in text
    assert f"line 6: ICCID {iccid_for(5)} already exists" in text
    assert f"line 7: IMSI {imsi_for(77)} already exists" in text
    assert "line 8: IMSI “12345”: An IMSI has 14 or 15 digits; this one has 5." in text
    assert "line 9: An endpoint has at most 20 tags; this has 21." in text
    assert f"line 10: IMSI {imsi_for(101)} is already on line 2" in text
    assert "line 11: no IMSI" in text
    assert "line 12: the name is 101 characters long" in text
    assert "line 13: “bad tag!” is not a valid tag" in text
    assert (Endpoint.objects.count(), IMSI.objects.count(), History.objects.count()) == before


def test_a_line_with_several_problems_lists_them_all(tmp_path, account):
    errors = rejected(tmp_path, HEADER + "12,34,,,\n")
    assert len(errors) == 1
    assert "line 2: ICCID “12”" in errors[0] and "IMSI “34”" in errors[0]


def test_the_check_digit_can_be_waived_explicitly(tmp_path, account):
    iccid = bad_luhn(iccid_for(300))
    errors = rejected(tmp_path, HEADER + f"{iccid},{imsi_for(300)},,,\n")
    assert "check digit" in errors[0]

    out, _ = run(tmp_path, HEADER + f"{iccid},{imsi_for(300)},,,\n", "--waive-check-digit")
    assert "1 endpoints with 1 IMSIs imported" in out
    assert Endpoint.objects.filter(iccid=iccid, account=account).exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("iccid,name\n", "missing column(s) imsis"),
        ("iccid,imsis,colour\n", "unknown column(s) colour"),
        (HEADER, "line 2: the file has no data lines"),
        (HEADER + f"{iccid_for(1)},{imsi_for(1)},a,b,c,extra\n", "more values than the header"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(tmp_path, account, text, message):
    errors = rejected(tmp_path, text)
    assert message in "\n".join(errors)
    assert not Endpoint.objects.exists()


def test_non_utf8_file_is_refused(tmp_path, account):
    path = tmp_path / "sims.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe,\x00\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_sims", str(path), account="vantiq", stdout=StringIO(), stderr=err)
    assert "not UTF-8" in err.getvalue()


def test_unknown_account_and_missing_file_are_clear_errors(tmp_path, account):
    with pytest.raises(CommandError, match="No account with the slug “nope”"):
        run(tmp_path, HEADER, account="nope")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_sims", str(tmp_path / "missing.csv"), account="vantiq")


def test_database_duplicates_are_found_with_a_query_per_chunk(
    tmp_path, account, django_assert_max_num_queries
):
    EndpointFactory(account=account, iccid=iccid_for(2500), imsis=0)
    lines = [f"{iccid_for(n)},{imsi_for(n)}" for n in range(1, 2501)]
    data = ("iccid,imsis\n" + "\n".join(lines) + "\n").encode()
    path = tmp_path / "many.csv"
    path.write_bytes(data)
    with (
        path.open("rb") as handle,
        django_assert_max_num_queries(4),
        pytest.raises(ImportRejected) as rejection,
    ):
        import_sims(handle, account=account, actor=Actor.SYSTEM)
    assert [str(e) for e in rejection.value.errors] == [
        f"line 2501: ICCID {iccid_for(2500)} already exists"
    ]


@pytest.mark.slow
def test_a_hundred_thousand_lines_import_in_one_go(tmp_path, account):
    lines = [f"{iccid_for(n)},{imsi_for(n)},Car {n},,fleet:a" for n in range(100_000)]
    out, _ = run(tmp_path, HEADER + "\n".join(lines) + "\n")
    assert "100,000 endpoints with 100,000 IMSIs imported" in out
    assert "written: 100,000 / 100,000 lines" in out
    assert Endpoint.objects.filter(account=account, state=State.PENDING).count() == 100_000
    assert History.objects.filter(action="created").count() == 100_000
