"""A source's ``proxy``: every request of its crawl (robots.txt, feed, articles) goes through it,
and the other sources' requests do not. The proxy is a small forward proxy the test owns."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from crawl_helpers import crawl_with
from forward_proxy import ForwardProxy

from newsdedup.config import ConfigError, parse_sources

SITES = Path(__file__).parent / "sites"


def test_requests_of_a_source_with_a_proxy_go_through_it(tmp_path):
    from newsdedup.siteserver import SiteServer

    with (
        SiteServer(SITES / "daily", host="127.0.0.2") as daily,
        SiteServer(SITES / "wire", host="127.0.0.3") as wire,
        ForwardProxy() as proxy,
    ):
        sources = [
            {"name": "daily", "feeds": [daily.url("/rss.xml")], "proxy": proxy.url},
            {"name": "wire", "feeds": [wire.url("/feed.rss")]},
        ]
        result = crawl_with(sources, tmp_path, "proxied")
        daily_log = [r.path for r in daily.requests]
    proxied = {urlsplit(url).path for url in proxy.urls}
    accepted = {urlsplit(p["url"]).path for p in result["accepted"] if p["source"] == "daily"}
    assert {"/robots.txt", "/rss.xml"} <= proxied
    assert accepted and accepted <= proxied
    # Everything the daily site answered was asked through the proxy, once each.
    assert sorted(daily_log) == sorted(urlsplit(url).path for url in proxy.urls if "127.0.0.2" in url)
    assert not any("127.0.0.3" in url for url in proxy.urls)  # wire has no proxy
    assert any(p["source"] == "wire" for p in result["accepted"])


@pytest.mark.parametrize(
    "proxy", ["socks5://127.0.0.1:1080", "127.0.0.1:3128", "http://:3128", "http://proxy:port", 3128]
)
def test_a_bad_proxy_stops_at_start_up_naming_the_source_and_key(proxy):
    with pytest.raises(ConfigError) as error:
        parse_sources(
            {"sources": [{"name": "daily", "feeds": ["https://daily.example/rss.xml"], "proxy": proxy}]}
        )
    assert "source 'daily', key 'proxy'" in str(error.value)


def test_http_and_https_proxies_with_credentials_are_accepted():
    for proxy in ("http://proxy.internal:3128", "https://user:secret@proxy.example:8443"):
        (source,) = parse_sources(
            {"sources": [{"name": "daily", "feeds": ["https://d.example/rss"], "proxy": proxy}]}
        )
        assert source.proxy == proxy


def test_a_proxy_named_on_the_internal_network_may_be_connected_to():
    from newsdedup.crawler.addresses import private_domains

    sources = parse_sources(
        {
            "sources": [
                {"name": "daily", "feeds": ["https://d.example/rss"], "proxy": "http://Proxy.Internal:3128"},
                {"name": "wire", "feeds": ["https://w.example/rss"], "proxy": "http://10.0.0.5:3128"},
                {"name": "plain", "feeds": ["https://p.example/rss"]},
            ]
        }
    )
    # The proxy's name may resolve to a private address; the sites' names still may not.
    assert private_domains(sources) == ["proxy.internal"]


def test_a_proxy_given_as_an_ip_literal_serves_a_source_that_allows_private_addresses(tmp_path):
    """The source alone opts in (NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES is off): its proxy, an
    address of the operator's, is reached, not refused as a DNS answer."""
    from newsdedup.siteserver import SiteServer

    with SiteServer(SITES / "daily", host="127.0.0.2") as daily, ForwardProxy() as proxy:
        assert proxy.url.startswith("http://127.0.0.9:")
        sources = [
            {
                "name": "daily",
                "feeds": [daily.url("/rss.xml")],
                "proxy": proxy.url,
                "allow_private_addresses": True,
            }
        ]
        result = crawl_with(sources, tmp_path, "literal", allow_private_addresses=False)
    assert {"/rss.xml"} <= {urlsplit(url).path for url in proxy.urls}
    assert any(p["source"] == "daily" for p in result["accepted"]), result.get("failed")


def test_a_proxy_url_with_a_typo_is_named_without_its_password():
    for proxy in ("http://alice:pw-secret@proxy:31a8", "socks5://alice:pw-secret@proxy:1080"):
        with pytest.raises(ConfigError) as error:
            parse_sources(
                {"sources": [{"name": "daily", "feeds": ["https://d.example/rss"], "proxy": proxy}]}
            )
        assert "pw-secret" not in str(error.value)
        assert "alice:***@proxy" in str(error.value)
