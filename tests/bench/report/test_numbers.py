"""Figures as report text: precision that suits the size, '-' for anything missing."""
from zoe_export.bench.report.numbers import (
    MISSING,
    first_line,
    fmt_gb,
    fmt_ms,
    fmt_percent,
    fmt_ratio,
    fmt_seconds,
    fmt_share,
    fmt_sig,
)


def test_durations_keep_sensible_precision():
    assert [fmt_ms(v) for v in (0.0421, 4.2, 42.0, 420.4, None, float("inf"), "x", True)] == \
        ["0.042", "4.20", "42.0", "420", "-", "inf", "-", "-"]


def test_other_figures():
    assert fmt_ratio(0.934) == "0.93x" and fmt_gb(2150.0) == "2.10" and fmt_sig(1.23456e-6) == "1.23e-06"
    assert fmt_share(0.91) == "0.9100" and fmt_percent(0.5) == "0.5 %" and fmt_percent(16.2) == "16 %"
    assert fmt_seconds(42) == "42.0 s" and fmt_seconds(321.5) == "5.4 min"
    assert {fmt_ratio(None), fmt_gb(None), fmt_sig(None), fmt_share(None), fmt_seconds(None)} == {MISSING}


def test_first_line_is_cut_to_the_limit():
    assert first_line("RuntimeError: boom\nline two") == "RuntimeError: boom"
    assert first_line("x" * 100, 20) == "x" * 17 + "..." and first_line("  ") == ""
