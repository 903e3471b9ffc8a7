"""Sizes as users write them: HxW, MIN:MAX ranges, MIN:OPT:MAX profiles."""
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.sizes import DEFAULT_SIZE_RANGE, SizeProfile, SizeRange, parse_size


def test_parse_and_print():
    assert parse_size("384x672") == (384, 672) and parse_size(" 479X641 ") == (479, 641)
    assert SizeRange.parse("256x256:768x1344") == DEFAULT_SIZE_RANGE and DEFAULT_SIZE_RANGE.text == "256x256:768x1344"
    profile = SizeProfile.parse("320x320:384x672:768x1344")
    assert profile.opt == (384, 672) and profile.text == "320x320:384x672:768x1344"
    assert SizeRange.of(((32, 32), (64, 96))).text == "32x32:64x96" and SizeRange.of(DEFAULT_SIZE_RANGE) is DEFAULT_SIZE_RANGE


@pytest.mark.parametrize("text, match", [
    ("384:64x64", "HEIGHTxWIDTH"), ("0x32:64x64", "positive"), ("33x32:64x64", "multiples of 32 .e.g. 64x32"),
    ("64x64:32x32", "at most the next"), ("64x64", "MIN_HxMIN_W:MAX_HxMAX_W"), ("axb:64x64", "HEIGHTxWIDTH"),
])
def test_bad_ranges_name_the_fix(text, match):
    with pytest.raises(ZoeExportError, match=match):
        SizeRange.parse(text)


def test_range_membership_and_clamp():
    r = SizeRange.parse("256x256:768x1344")
    assert r.contains((384, 672)) and not r.contains((224, 672)) and not r.contains((384, 1376))
    assert r.clamp((64, 96)) == (256, 256) and r.clamp((384, 512)) == (384, 512)
    with pytest.raises(ZoeExportError, match=r"outside this graph's range 256x256:768x1344.*224x256:768x1344"):
        r.check((224, 672))
    with pytest.raises(ZoeExportError, match="multiples of 32"):
        r.check((384, 670))


def test_profile_order_is_checked():
    with pytest.raises(ZoeExportError, match="at most the next"):
        SizeProfile.parse("320x320:768x1344:384x672")
    assert SizeProfile.parse("1x1:2x2:3x3").contains((2, 3))
