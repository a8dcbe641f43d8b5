import pytest
from django.core.exceptions import ValidationError

from inventory.identifiers import (
    clean_iccid,
    clean_imei,
    clean_imsi,
    clean_ipv4_in_subnet,
    clean_tags,
    imei_matches,
    is_iccid_shaped,
)
from tests.factories import iccid_for, imei_for


def test_valid_iccid_passes_and_is_stripped():
    assert clean_iccid(f" {iccid_for(1)} ") == iccid_for(1)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("89440000000000000a1", "iccid_digits"),
        ("894400000000000001", "iccid_length"),
        ("123456789012345678901", "iccid_length"),
        ("1944000000000000005", "iccid_prefix"),
    ],
)
def test_bad_iccid_is_refused_with_its_reason(value, code):
    with pytest.raises(ValidationError) as err:
        clean_iccid(value)
    assert err.value.code == code


def test_iccid_check_digit_is_checked_unless_waived():
    wrong = iccid_for(1)[:-1] + str((int(iccid_for(1)[-1]) + 1) % 10)
    with pytest.raises(ValidationError, match="check digit"):
        clean_iccid(wrong)
    assert clean_iccid(wrong, check_digit=False) == wrong


def test_imsi_lengths():
    assert clean_imsi("23415000000001") == "23415000000001"
    with pytest.raises(ValidationError, match="14 or 15 digits"):
        clean_imsi("2341500000")


def test_imei_and_imeisv():
    imei = imei_for(42)
    assert clean_imei(imei) == imei
    assert clean_imei(imei[:14] + "07") == imei[:14] + "07"
    with pytest.raises(ValidationError, match="check digit"):
        clean_imei(imei[:14] + str((int(imei[14]) + 1) % 10))
    with pytest.raises(ValidationError, match="15-digit IMEI"):
        clean_imei("1234")


def test_imei_lock_compares_tac_and_serial_only():
    imei = imei_for(42)
    assert imei_matches(imei, imei[:14] + "99")
    assert not imei_matches(imei, imei_for(43))
    assert not imei_matches(imei, "")


def test_tags_are_lowercased_deduplicated_and_limited():
    assert clean_tags("EU, fleet:A  eu") == ["eu", "fleet:a"]
    with pytest.raises(ValidationError, match="not a valid tag"):
        clean_tags("bad tag!")
    with pytest.raises(ValidationError, match="at most 20"):
        clean_tags([f"t{i}" for i in range(21)])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("100.64.0.01", "not an IPv4 address"),
        ("10.0.0.5", "outside the subnet"),
        ("100.64.0.0", "network address"),
        ("100.64.255.255", "broadcast address"),
        ("not-an-ip", "not an IPv4 address"),
    ],
)
def test_static_ip_rules(value, message):
    with pytest.raises(ValidationError, match=message):
        clean_ipv4_in_subnet(value, "100.64.0.0/16")


def test_static_ip_at_subnet_edges():
    assert clean_ipv4_in_subnet("100.64.0.1", "100.64.0.0/16") == "100.64.0.1"
    assert clean_ipv4_in_subnet("100.64.255.254", "100.64.0.0/16") == "100.64.255.254"


def test_luhn_check_digit_completes_a_body_that_then_passes():
    from inventory.identifiers import luhn_check_digit, luhn_ok

    for body in ("894400000000000001", "8931440000000000001", "35000000000007"):
        digit = luhn_check_digit(body)
        assert luhn_ok(body + digit)
        assert not luhn_ok(body + str((int(digit) + 1) % 10))


def test_label_digits_drop_spaces_and_dashes_and_refuse_anything_else():
    from inventory.identifiers import label_digits

    assert label_digits(" 8944 0000-1234 ") == "894400001234"
    assert label_digits("12a4") is None
    assert label_digits("١٢٣٤") is None  # digits of another script are not an ICCID's
    assert label_digits("") is None


def test_only_19_or_20_ascii_digits_are_iccid_shaped():
    from inventory.identifiers import is_iccid_shaped

    assert is_iccid_shaped("8" * 19) and is_iccid_shaped("8" * 20)
    assert not is_iccid_shaped("8" * 18) and not is_iccid_shaped("8" * 21)
    assert not is_iccid_shaped("8" * 18 + "x") and not is_iccid_shaped("8" * 18 + "\x00")


def test_digits_followed_by_a_line_break_are_not_iccid_shaped():
    """``$`` also matches before a trailing newline; the check must see the whole text."""
    assert is_iccid_shaped(iccid_for(1))
    assert not is_iccid_shaped(iccid_for(1) + "\n")


@pytest.mark.parametrize(
    ("value", "subnet"),
    [("10.0.0.0", "10.0.0.0/31"), ("10.0.0.1", "10.0.0.0/31"), ("10.0.0.7", "10.0.0.7/32")],
)
def test_a_31_or_32_has_no_static_address_to_give(value, subnet):
    with pytest.raises(ValidationError, match="has no host address"):
        clean_ipv4_in_subnet(value, subnet)


def test_a_30_gives_its_two_hosts_and_refuses_network_and_broadcast():
    assert clean_ipv4_in_subnet("10.0.0.1", "10.0.0.0/30") == "10.0.0.1"
    assert clean_ipv4_in_subnet("10.0.0.2", "10.0.0.0/30") == "10.0.0.2"
    for reserved in ("10.0.0.0", "10.0.0.3"):
        with pytest.raises(ValidationError, match="choose a host address"):
            clean_ipv4_in_subnet(reserved, "10.0.0.0/30")
