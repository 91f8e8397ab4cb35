"""Who uses the app: users with a fixed client, version, OS, device, browser and country.

A user's attributes are drawn from the app's mixes with a stream seeded by the user's index, so
the same user looks the same in every session. Those attributes are the segments analyses slice
by (docs/ARCHITECTURE.md): resource ``service.name``, ``app.version``, ``os.*``,
``device.model.identifier``; span ``app.platform``, ``browser.name``, ``geo.country.iso_code``,
``user_agent.original``.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

from simulator.records import ResourceTable
from simulator.spec import AppSpec, ClientSpec

SDK_VERSION = {"web": "1.28.0", "ios": "1.12.1", "android": "0.9.0"}
SDK_LANGUAGE = {"web": "webjs", "ios": "swift", "android": "java"}
OS_NAME = {"ios": "iOS", "android": "Android"}


def cumulative(weights: list[float]) -> list[float]:
    """Running sums of weights (for weighted draws with bisect)."""
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def pick(rng: random.Random, keys: list[str], cum: list[float]) -> str:
    """A weighted draw of one key."""
    return keys[bisect.bisect_right(cum, rng.random() * cum[-1])]


@dataclass(slots=True)
class User:
    """Who a session belongs to: fixed per user across sessions."""

    user_id: str
    client: ClientSpec
    resource: int
    span_attrs: dict[str, str]
    segment: dict[str, str]
    latency_factor: float


class Population:
    """The app's users; `user(uid)` is deterministic for a seed."""

    def __init__(self, app: AppSpec, seed: int, resources: ResourceTable) -> None:
        self.app = app
        self.seed = seed
        self.resources = resources
        self._client_cum = cumulative([c.weight for c in app.clients])
        self._countries = list(app.countries)
        self._country_cum = cumulative(list(app.countries.values()))

    def user(self, uid: int) -> User:
        """The user with index ``uid``: same client, device and country in every session."""
        rng = random.Random(self.seed * 7_000_003 + uid + (1 << 40))
        client = self.app.clients[
            bisect.bisect_right(self._client_cum, rng.random() * self._client_cum[-1])
        ]
        version = pick(rng, list(client.versions), cumulative(list(client.versions.values())))
        os_version = pick(
            rng, list(client.os_versions), cumulative(list(client.os_versions.values()))
        )
        country = pick(rng, self._countries, self._country_cum)
        resource = {
            "service.name": client.service,
            "service.version": version,
            "app.version": version,
            "service.namespace": self.app.name,
            "deployment.environment.name": self.app.environment,
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.language": SDK_LANGUAGE[client.platform],
            "telemetry.sdk.version": SDK_VERSION[client.platform],
        }
        span_attrs = {"app.platform": client.platform, "geo.country.iso_code": country}
        if client.platform == "web":
            os_names = client.os_names or {"Windows": 1.0}
            os_name = pick(rng, list(os_names), cumulative(list(os_names.values())))
            browsers = client.browsers or {"Chrome": 1.0}
            browser = pick(rng, list(browsers), cumulative(list(browsers.values())))
            resource["os.name"] = os_name
            resource["os.version"] = os_version
            span_attrs["browser.name"] = browser
            span_attrs["user_agent.original"] = web_agent(browser, os_name)
        else:
            devices = client.devices or {"generic": 1.0}
            device = pick(rng, list(devices), cumulative(list(devices.values())))
            resource["os.name"] = OS_NAME[client.platform]
            resource["os.version"] = os_version
            resource["device.model.identifier"] = device
            app_name = self.app.name.capitalize() + "App"
            span_attrs["user_agent.original"] = (
                f"{app_name}/{version} ({device}; {OS_NAME[client.platform]} {os_version})"
            )
        segment = {
            "service.name": client.service,
            "app.version": version,
            "os.name": resource["os.name"],
            "os.version": os_version,
            **{k: v for k, v in span_attrs.items() if k != "user_agent.original"},
        }
        if "device.model.identifier" in resource:
            segment["device.model.identifier"] = resource["device.model.identifier"]
        return User(
            user_id=f"user-{uid:07d}",
            client=client,
            resource=self.resources.add(resource),
            span_attrs=span_attrs,
            segment=segment,
            latency_factor=client.latency_factor,
        )


def web_agent(browser: str, os_name: str) -> str:
    platform = {
        "Windows": "Windows NT 10.0; Win64; x64",
        "macOS": "Macintosh; Intel Mac OS X 10_15_7",
        "Linux": "X11; Linux x86_64",
        "ChromeOS": "X11; CrOS x86_64 14541.0.0",
    }.get(os_name, "X11; Linux x86_64")
    if browser == "Firefox":
        return f"Mozilla/5.0 ({platform}; rv:132.0) Gecko/20100101 Firefox/132.0"
    if browser == "Safari":
        return (
            f"Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15"
        )
    suffix = " Edg/131.0.0.0" if browser == "Edge" else ""
    return (
        f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/131.0.0.0 Safari/537.36{suffix}"
    )
