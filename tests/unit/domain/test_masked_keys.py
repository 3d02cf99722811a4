"""SDK and mobile keys shown to those who may not ``viewSdkKey``: recognisable, not usable."""

from __future__ import annotations

from flagward.domain.projects import masked_key


def test_a_masked_key_keeps_its_kind_and_last_four_characters() -> None:
    assert masked_key("sdk-0123456789abcdef") == "sdk-********cdef"
    assert masked_key("mob-0123456789abcdef") == "mob-********cdef"
    assert masked_key("opaque0123") == "********0123"
    assert "0123456789ab" not in masked_key("sdk-0123456789abcdef")
