"""A small generated world per account: what worldstate_snapshot reports and the jobs change."""

from __future__ import annotations

import copy
import random
import threading
from typing import Any

WORLD_VERSION = 3
# The coordinate of the real server's example error frame, so fakes and docs agree.
ORIGIN = (-12817304, 4324025, 0)

_KINDS = {
    "tree": ["Old Ash", "Split Birch", "Hollow Oak", "Silver Pine"],
    "rock": ["Grey Cairn", "Lichen Stone", "Split Boulder"],
    "npc": ["Mira the Cartographer", "Tollan", "The Quiet Smith", "Old Wen"],
    "structure": ["Watchtower", "Ruined Chapel", "Mill", "Waystone"],
    "glyph_prompt": ["Faded Glyph", "Burning Glyph"],
}
_REGIONS = ["Ashen Reach", "Low Fells", "Saltmarsh", "Cinder Vale"]
_BIOMES = ["heath", "forest", "marsh", "tundra"]
_TIMES = ["dawn", "morning", "noon", "dusk", "night"]
_WEATHER = ["clear", "fog", "drizzle", "wind", "snow"]


class World:
    """One account's world: entities keyed by id, a location and an environment."""

    def __init__(self, account: str) -> None:
        # A str seed is hashed deterministically, so an account sees the same world every run.
        rng = random.Random(f"procedura-devserver:{account}")
        self.seed = rng.randrange(2**31)
        self.location: dict[str, Any] = {
            "coord": list(ORIGIN),
            "region": rng.choice(_REGIONS),
            "biome": rng.choice(_BIOMES),
        }
        self.environment: dict[str, Any] = {
            "time_of_day": rng.choice(_TIMES),
            "weather": rng.choice(_WEATHER),
            "temperature_c": rng.randint(-8, 27),
            "wind_kph": rng.randint(0, 40),
        }
        self.entities: dict[str, dict[str, Any]] = {}
        self._serial = 0
        for _ in range(rng.randint(6, 10)):
            kind = rng.choice(sorted(_KINDS))
            self.add_entity(kind, rng.choice(_KINDS[kind]), self.near(rng, 600))

    @staticmethod
    def near(rng: random.Random, radius: int) -> list[int]:
        x, y, z = ORIGIN
        return [x + rng.randint(-radius, radius), y + rng.randint(-radius, radius), z]

    def add_entity(self, kind: str, name: str, coord: list[int], **extra: Any) -> dict[str, Any]:
        self._serial += 1
        entity_id = f"{kind[:3]}_{self._serial:04d}"
        entity = {"id": entity_id, "kind": kind, "name": name, "coord": coord, **extra}
        self.entities[entity_id] = entity
        return entity

    def snapshot(self, *, terse: bool = False, empty: bool = False) -> dict[str, Any]:
        """The worldstate_snapshot result; `empty` is the EMPTY_WORLD fault (entities {})."""
        entities = {} if empty else self.entities
        if terse:
            return copy.deepcopy(
                {
                    "meta": {
                        "version": WORLD_VERSION,
                        "terse": True,
                        "entity_count": len(entities),
                    },
                    "entities": {
                        i: {"kind": e["kind"], "coord": e["coord"]} for i, e in entities.items()
                    },
                    "location": {
                        "coord": self.location["coord"],
                        "region": self.location["region"],
                    },
                    "environment": {
                        "time_of_day": self.environment["time_of_day"],
                        "weather": self.environment["weather"],
                    },
                }
            )
        return copy.deepcopy(
            {
                "meta": {
                    "version": WORLD_VERSION,
                    "terse": False,
                    "seed": self.seed,
                    "entity_count": len(entities),
                },
                "entities": entities,
                "location": self.location,
                "environment": self.environment,
            }
        )


class WorldStore:
    """Worlds by account, created on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worlds: dict[str, World] = {}

    def for_account(self, account: str) -> World:
        with self._lock:
            world = self._worlds.get(account)
            if world is None:
                world = self._worlds[account] = World(account)
            return world
