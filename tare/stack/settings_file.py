"""The settings file's shape: ``[stack]`` (the local Graphite's topology and ports).

[stack]
caches = 2          # carbon-c-relay in front of two carbon-caches
carbon_port = 2003  # where every writer sends (the relay, in a cluster)
web_port = 8080
listen = "10.0.0.1"  # other hosts' collectors push here (default 127.0.0.1)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StackTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caches: int | None = Field(default=None, ge=1, le=16)
    carbon_port: int | None = Field(default=None, gt=0, lt=65536)
    pickle_port: int | None = Field(default=None, gt=0, lt=65536)
    cache_query_port: int | None = Field(default=None, gt=0, lt=65536)
    web_port: int | None = Field(default=None, gt=0, lt=65536)
    collectd: Literal["auto", "on", "off"] | None = None
    listen: str | None = None


class SettingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack: StackTable | None = None
