"""safe_next (dashboard.web.redirects): normalised first, then only a path on this site."""
import pytest

from dashboard.web.redirects import safe_next


@pytest.mark.parametrize("target", [
    "/\t/evil.example/x", "\\\\evil.example", "/\\evil.example", "//evil.example/x",
    "https://evil.example/", "/%09/evil.example", "/%5C/evil.example", "%2F%2Fevil.example",
    " //evil.example", "/\r\n/evil.example", "javascript:alert(1)", "evil.example/x", "",
    None, "/" + "a" * 3000])
def test_off_site_and_odd_targets_get_the_default(target):
    """Anything a browser could read as another host (or not a path at all): the default."""
    assert safe_next(target, "/fallback") == "/fallback"


@pytest.mark.parametrize("target, expected", [
    ("/", "/"), ("/workers", "/workers"), ("/?status=failure&q=a%20b", "/?status=failure&q=a%20b"),
    ("/requests/7", "/requests/7"), (" /requests/7\t", "/requests/7"),
    ("/wor\tkers", "/workers")])
def test_local_paths_are_kept_without_control_characters(target, expected):
    """Paths on this site are followed, tabs and surrounding spaces dropped."""
    assert safe_next(target, "/fallback") == expected
