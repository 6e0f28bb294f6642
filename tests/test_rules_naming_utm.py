"""Naming templates and UTM taxonomies: which part is wrong, and properties that hold for any input."""
from __future__ import annotations

import string
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.core.records import Record
from baton.rules import load_rule_set

AT = datetime(2026, 11, 24, tzinfo=timezone.utc)
DEMO = sorted((Path(__file__).parent.parent / "rules" / "demo").glob("*.toml"))
RULES = load_rule_set(DEMO)
ASSET = RULES.naming_templates["asset-name"]
LINKS = RULES.utm_taxonomies["campaign-links"]
CHANNELS = RULES.taxonomies["channel"].values
SOURCES = RULES.taxonomies["utm-source"].values
MEDIUMS = RULES.taxonomies["utm-medium"].values


def record(**fields) -> Record:
    return Record(source="asana:content-calendar", id="1", url="", name="n", status=None,
                  owner=None, fields=fields, modified_at=AT)


def name_problems(name: str, **fields) -> list[str]:
    defaults = {"Campaign ID": "CMP-1234", "Channel": "email"}
    return list(ASSET.problems(name, record(**{**defaults, **fields}), {}, "the name") or ())


def url_problems(url: str, campaign: str = "CMP-1234") -> list[str]:
    return list(LINKS.problems(url, record(**{"Campaign ID": campaign}), {}, "Landing URL") or ())


@pytest.mark.parametrize(("name", "expected"), [
    ("CMP-1234_email_hero-banner_v1_20261124", []),
    ("CMP-1234_emial_hero-banner_v1_20261124",
     ["The Channel part 'emial' of the name must be one of: email, paid-social, organic-social, "
      "webinar, display, blog, search, events"]),
    ("CMP-1234_paid-social_hero-banner_v1_20261124",
     ["The Channel part 'paid-social' of the name must equal the Channel field 'email'"]),
    ("CMP-9999_email_hero-banner_v1_20261124",
     ["The Campaign ID part 'CMP-9999' of the name must equal the Campaign ID field 'CMP-1234'"]),
    ("CMP-12_email_hero-banner_v1_20261124",
     ["The Campaign ID part 'CMP-12' of the name should look like CMP-1234"]),
    ("CMP-1234_email_Hero_Banner_v1_20261124",
     ["The asset part 'Hero_Banner' of the name should look like hero-banner"]),
    ("CMP-1234_email_hero-banner_v0_20261124",
     ["The version part '0' of the name should look like 1"]),
    ("CMP-1234_email_hero-banner_v1_20261324",
     ["The date part '20261324' of the name is not a valid date (expected YYYYMMDD)"]),
    ("CMP-1234_email_hero-banner_v1_2026-11-24",
     ["The date part '2026-11-24' of the name is not a valid date (expected YYYYMMDD)"]),
    ("Final banner v2 (1).png",
     ["The name 'Final banner v2 (1).png' must look like CMP-1234_email_hero-banner_v1_20261124"]),
    ("", ["The name '' must look like CMP-1234_email_hero-banner_v1_20261124"]),
    ("CMP-12_emial_hero-banner_v1_20261124", [
        "The Campaign ID part 'CMP-12' of the name should look like CMP-1234",
        "The Channel part 'emial' of the name must be one of: email, paid-social, organic-social, "
        "webinar, display, blog, search, events"]),
])
def test_naming_says_which_part_is_wrong(name, expected):
    assert name_problems(name) == expected


def test_naming_compares_parts_with_missing_fields():
    assert name_problems("CMP-1234_email_x_v1_20261124", Channel=None) == [
        "The Channel part 'email' of the name can't be checked: Channel is missing"]


slug = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(number=st.integers(0, 9999), channel=st.sampled_from(CHANNELS), asset=slug,
       version=st.integers(1, 10**6), day=st.dates(date(1900, 1, 1), date(9999, 12, 31)))
def test_a_name_built_from_valid_parts_always_passes(number, channel, asset, version, day):
    campaign = f"CMP-{number:04d}"
    name = f"{campaign}_{channel}_{asset}_v{version}_{day:%Y%m%d}"
    assert name_problems(name, **{"Campaign ID": campaign, "Channel": channel}) == []


@settings(max_examples=300)
@given(number=st.integers(0, 9999), channel=st.sampled_from(CHANNELS), asset=slug,
       wrong=st.text(string.ascii_letters, min_size=1, max_size=8))
def test_a_name_with_a_wrong_channel_names_the_channel_part(number, channel, asset, wrong):
    if wrong in CHANNELS:
        return
    campaign = f"CMP-{number:04d}"
    problems = name_problems(f"{campaign}_{wrong}_{asset}_v1_20261124",
                             **{"Campaign ID": campaign, "Channel": channel})
    assert problems and all("The Channel part" in p for p in problems)


@settings(max_examples=500)
@given(st.text())
def test_any_name_gives_messages_never_an_exception(name):
    problems = name_problems(name)
    assert all(isinstance(p, str) and p for p in problems)


# ---------------------------------------------------------------- UTM
GOOD = "https://acme.example/spring?utm_source=linkedin&utm_medium=paid-social&utm_campaign=cmp-1234-spring-launch"


@pytest.mark.parametrize(("url", "expected"), [
    (GOOD, []),
    (GOOD + "&gclid=ABC", []),  # undeclared parameters are allowed, and not lower-cased
    ("https://acme.example/?utm_source=google&utm_medium=cpc&utm_campaign=cmp-1234", []),
    ("https://acme.example/spring?utm_medium=email&utm_campaign=cmp-1234",
     ["Landing URL is missing utm_source"]),
    ("https://acme.example/spring", ["Landing URL is missing utm_source, utm_medium, utm_campaign"]),
    ("https://acme.example/?utm_source=&utm_medium=email&utm_campaign=cmp-1234",
     ["Landing URL is missing utm_source"]),
    (GOOD + "&utm_source=google", ["utm_source appears 2 times in Landing URL"]),
    (GOOD.replace("linkedin", "LinkedIn"), ["utm_source 'LinkedIn' in Landing URL must be lowercase"]),
    (GOOD.replace("utm_source", "UTM_Source"),
     ["Landing URL is missing utm_source", "The parameter name 'UTM_Source' in Landing URL must be lowercase"]),
    (GOOD.replace("linkedin", "myspace"),
     ["utm_source 'myspace' in Landing URL must be one of: google, linkedin, facebook, instagram, "
      "meta, youtube, gdn, newsletter, lifecycle, blog, partner"]),
    (GOOD.replace("cmp-1234-spring-launch", "spring-launch"),
     ["utm_campaign 'spring-launch' in Landing URL should look like cmp-1234-spring-launch"]),
    (GOOD.replace("cmp-1234", "cmp-9999"),
     ["The number in utm_campaign 'cmp-9999-spring-launch' (9999) must match the Campaign ID 'CMP-1234'"]),
    ("https://acme.example/?utm_source=linked%69n&utm_medium=paid-social&utm_campaign=cmp-1234", []),
    ("acme.example/spring?utm_source=linkedin", ["Landing URL 'acme.example/spring?utm_source=linkedin' is not a valid web address (expected https://…)"]),
    ("https://acme.example/a b?utm_source=x", ["Landing URL 'https://acme.example/a b?utm_source=x' is not a valid web address (expected https://…)"]),
    ("https://[::1/?utm_source=x", ["Landing URL 'https://[::1/?utm_source=x' is not a valid web address (expected https://…)"]),
    ("https://acme.example:99999/?x", ["Landing URL 'https://acme.example:99999/?x' is not a valid web address (expected https://…)"]),
    ("javascript:alert(1)", ["Landing URL 'javascript:alert(1)' is not a valid web address (expected https://…)"]),
    ('=HYPERLINK("http://x","y")', ['Landing URL \'=HYPERLINK("http://x","y")\' is not a valid web address (expected https://…)']),
])
def test_utm_problems(url, expected):
    assert url_problems(url) == expected


def test_utm_group_equals_needs_the_field_in_shape():
    assert url_problems(GOOD, campaign="") == [
        "The number in utm_campaign 'cmp-1234-spring-launch' can't be checked: Campaign ID is missing"]
    assert url_problems(GOOD, campaign="Spring 2026") == [
        "The number in utm_campaign 'cmp-1234-spring-launch' can't be checked: Campaign ID "
        "'Spring 2026' is not in the expected format"]


def test_utm_group_equals_against_a_whole_field(tmp_path):
    path = tmp_path / "utm.toml"
    path.write_text("""
[utm.u]
required = ["utm_campaign"]
[utm.u.params.utm_campaign]
pattern = '(?P<id>cmp-\\d{4})(-[a-z0-9-]+)?'
group_equals = { id = "Campaign ID" }
""")
    taxonomy = load_rule_set([path]).utm_taxonomies["u"]
    url = "https://x.example/?utm_campaign=cmp-1234-launch"
    assert taxonomy.problems(url, record(**{"Campaign ID": "CMP-1234"}), {}, "URL") is None
    assert taxonomy.problems(url, record(**{"Campaign ID": "CMP-1235"}), {}, "URL") == (
        "The id in utm_campaign 'cmp-1234-launch' (cmp-1234) must match the Campaign ID 'CMP-1235'",)


@settings(max_examples=300)
@given(number=st.integers(0, 9999), source=st.sampled_from(SOURCES),
       medium=st.sampled_from(MEDIUMS), suffix=st.one_of(st.just(""), slug.map(lambda s: "-" + s)),
       extra=st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.text(max_size=10), max_size=3))
def test_a_url_built_from_the_taxonomy_always_passes(number, source, medium, suffix, extra):
    from urllib.parse import urlencode
    params = {"utm_source": source, "utm_medium": medium, "utm_campaign": f"cmp-{number:04d}{suffix}"}
    params.update({k: v for k, v in extra.items() if not k.startswith("utm")})
    url = "https://acme.example/landing?" + urlencode(params)
    assert url_problems(url, campaign=f"CMP-{number:04d}") == []


@settings(max_examples=1000)
@given(st.one_of(st.text(), st.from_regex(r"https?://[^?]*\?.*", fullmatch=True),
                 st.builds(lambda q: GOOD + "&" + q, st.text())))
def test_any_url_string_gives_messages_never_an_exception(url):
    assert all(isinstance(p, str) and p for p in url_problems(url))
