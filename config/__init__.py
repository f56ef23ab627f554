"""Settings and the sources file: the one place that reads the environment."""

from newsdedup.config.settings import Settings, SettingsError, load_settings
from newsdedup.config.sinks import Sink, SinkFilter
from newsdedup.config.sources import (
    ConfigError,
    Source,
    UnknownSource,
    load_sinks,
    load_sources,
    parse_sources,
    select_sources,
)

__all__ = [
    "ConfigError",
    "Settings",
    "SettingsError",
    "Sink",
    "SinkFilter",
    "Source",
    "UnknownSource",
    "load_settings",
    "load_sinks",
    "load_sources",
    "parse_sources",
    "select_sources",
]
