"""Domain rules behind issue 12's integration cases: real time zones only, static folders that
stay inside the export root, settings changed by merge."""

from __future__ import annotations

import pytest

from integration.domain.errors import InvalidInput
from integration.domain.model import check_timezone, merge_settings, static_folder


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_iana_zones_are_accepted(zone):
    assert check_timezone(zone) == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "localtime", "utc "])
def test_anything_else_is_refused_with_an_example(zone):
    with pytest.raises(InvalidInput, match="IANA"):
        check_timezone(zone)


@pytest.mark.parametrize(
    ("given", "normalized"),
    [("garden", "garden"), ("a/b/../c", "a/c"), ("./x/", "x"), ("a\\b", "a/b")],
)
def test_relative_folders_inside_the_root_are_kept_normalized(given, normalized):
    assert static_folder({"folder": given}) == normalized


@pytest.mark.parametrize(
    "folder",
    ["", "   ", "..", "../x", "a/../../x", "/etc", "\\\\server\\share", "C:\\x", "a\x00b", 7],
)
def test_folders_that_leave_the_root_or_are_not_names_are_refused(folder):
    with pytest.raises(InvalidInput) as refused:
        static_folder({"folder": folder})
    assert "/srv" not in str(refused.value) and "var/exports" not in str(refused.value)


def test_settings_merge_like_a_json_merge_patch():
    current = {"default_status": "draft", "seo": {"title": "t", "noindex": True}}
    patch = {"default_status": None, "seo": {"noindex": None, "canonical": "c"}, "new": 1}
    assert merge_settings(current, patch) == {"seo": {"title": "t", "canonical": "c"}, "new": 1}
    assert current["default_status"] == "draft"  # the original is left alone
