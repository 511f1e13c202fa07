"""Service-name guessing: the distribution that ships the program's module."""

from importlib import metadata
from importlib.machinery import EXTENSION_SUFFIXES

from vitalyst_otel.resources import _record_ships, distribution_providing


def test_the_distribution_found_is_the_one_packages_distributions_names_first():
    # Every top-level module of this environment (about 200 distributions, editable installs,
    # extension modules, packages with and without top_level.txt) against the standard library.
    expected = metadata.packages_distributions()
    assert len(expected) > 50
    for module, dists in expected.items():
        distribution_providing.cache_clear()
        assert distribution_providing(module) == dists[0], module
    assert distribution_providing("no_such_module_anywhere") is None


def test_a_record_ships_packages_modules_and_extension_modules_only_at_the_top():
    record = ("shop/__init__.py,sha256=x,1\nshop_tools.py,sha256=y,2\n"
              f"fast{EXTENSION_SUFFIXES[0]},sha256=z,3\nshop-1.0.dist-info/RECORD,,\n"
              "vendor/billing/__init__.py,,\n")
    assert _record_ships(record, "shop") and _record_ships(record, "shop_tools") and _record_ships(record, "fast")
    assert not _record_ships(record, "billing") and not _record_ships(record, "shop-1")
    assert not _record_ships(record, "sho") and not _record_ships(record, "vendor.billing")
