"""The modules the engine runs, each a function from args to a job that yields steps.

A module is called with its argument list and a `JobContext`. Anything it
raises at call time is a failure before the job starts (the server answers at
once, with no ack). Otherwise it returns a generator: it yields `Wait` and
`Progress` steps, returns the result object, or raises `ModuleError` for a
failure after the ack. Modules do no I/O and never sleep themselves.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from .accounts import AccountBook, CredentialError, decode_credential
from .faults import Faults
from .sessions import SessionStore
from .world import ORIGIN, World, WorldStore


@dataclass(frozen=True)
class Wait:
    """Let time pass before the next step (the I/O layer sleeps)."""

    seconds: float


@dataclass(frozen=True)
class Progress:
    """A `running` update; its fields go into the frame. Dropped in sync mode."""

    fields: dict[str, Any]


Job = Generator["Wait | Progress", None, dict]


class ModuleError(Exception):
    """A failure the client sees as an error frame: message, optional code, extra context."""

    def __init__(self, message: str, code: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.context = context

    def frame_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"status": "error"}
        if self.code is not None:
            fields["code"] = self.code
        fields["message"] = self.message
        fields.update(self.context)
        return fields


@dataclass
class JobContext:
    """What a module may use: who asks, and the engine's state."""

    account: str | None
    accounts: AccountBook
    sessions: SessionStore
    worlds: WorldStore
    faults: Faults = field(default_factory=Faults)

    def world(self) -> World:
        assert self.account is not None, "only login_password runs without an account"
        return self.worlds.for_account(self.account)


def parse_flags(args: list[str], spec: dict[str, Callable[[str], Any] | None]) -> dict[str, Any]:
    """Parse `--name=value`, `--name value` and bare `--flag` arguments.

    `spec` maps a flag name to a converter, or None for a flag without value.
    Unknown flags, stray words and bad values raise ModuleError(code=BAD_ARGS).
    """
    found: dict[str, Any] = {}
    i = 0
    while i < len(args):
        word = args[i]
        name, sep, value = word[2:].partition("=") if word.startswith("--") else ("", "", "")
        if name not in spec:
            raise ModuleError(f"unexpected argument {word!r}", code="BAD_ARGS")
        convert = spec[name]
        if convert is None:
            if sep:
                raise ModuleError(f"--{name} takes no value", code="BAD_ARGS")
            found[name] = True
        else:
            if not sep:
                if i + 1 >= len(args):
                    raise ModuleError(f"--{name} needs a value", code="BAD_ARGS")
                i += 1
                value = args[i]
            try:
                found[name] = convert(value)
            except ValueError as exc:
                raise ModuleError(f"bad value for --{name}: {value!r}", code="BAD_ARGS") from exc
        i += 1
    return found


def _non_negative(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def checked(text: str) -> Any:
        value = convert(text)
        if value < 0 or not math.isfinite(value):
            raise ValueError(text)
        return value

    return checked


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(text)
    return value


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def login_password(args: list[str], ctx: JobContext) -> Job:
    """Check a credential and issue (or attach to) a session; failures come without ack."""
    if not args or args[0].startswith("--"):
        raise ModuleError(
            "login_password needs a credential as its first argument", code="BAD_ARGS"
        )
    opts = parse_flags(
        args[1:],
        {"replace": None, "attach": None, "device": str, "ttl": _positive_seconds},
    )
    if opts.get("replace") and opts.get("attach"):
        raise ModuleError("give --replace or --attach, not both", code="BAD_ARGS")
    device = opts.get("device", "cli")
    ttl = opts.get("ttl", 3600.0)
    try:
        email, password = decode_credential(args[0])
    except CredentialError as exc:
        raise ModuleError(str(exc), code="AUTH_FAILED") from exc
    if not ctx.accounts.check(email, password):
        raise ModuleError("wrong email or password", code="AUTH_FAILED")
    if opts.get("attach"):
        session, attached = ctx.sessions.attach(email, device, ttl)
    else:
        session, attached = ctx.sessions.replace(email, device, ttl), False
    return _finish(
        {
            "session_token": session.token,
            "account": session.account,
            "device": session.device,
            "ttl": _number(session.ttl),
            "expires_at": session.expires_at,
            "attached": attached,
        }
    )


def _finish(result: dict) -> Job:
    return result
    yield  # pragma: no cover - makes this a generator that finishes at once


def worldstate_snapshot(args: list[str], ctx: JobContext) -> Job:
    """The account's world; `--terse` for the short form."""
    opts = parse_flags(args, {"terse": None})
    return _finish(
        ctx.world().snapshot(terse=bool(opts.get("terse")), empty=ctx.faults.empty_world)
    )


def echo(args: list[str], ctx: JobContext) -> Job:
    """Return the arguments as given."""
    return _finish({"args": list(args)})


def long_job(args: list[str], ctx: JobContext) -> Job:
    """`--steps N --interval SECONDS`: N waits, a `running` update with progress after each."""
    opts = parse_flags(args, {"steps": _non_negative(int), "interval": _non_negative(float)})
    return _long_job(opts.get("steps", 5), opts.get("interval", 0.1))


def _long_job(steps: int, interval: float) -> Job:
    for done in range(1, steps + 1):
        yield Wait(interval)
        yield Progress({"progress": {"done": done, "total": steps}})
    return {"steps": steps, "interval": _number(interval)}


def fail(args: list[str], ctx: JobContext) -> Job:
    """Fail after the ack with an error frame carrying context, like the real server's."""
    opts = parse_flags(args, {"message": str, "code": str, "coord": _coord})
    return _fail(
        opts.get("message", "No glyph_prompt found at this coordinate."),
        opts.get("code"),
        opts.get("coord", list(ORIGIN)),
    )


def _coord(text: str) -> list[int]:
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(text)
    return parts


def _fail(message: str, code: str | None, coord: list[int]) -> Job:
    raise ModuleError(message, code=code, coord=coord)
    yield  # pragma: no cover - makes this a generator


_STAGES = ["reading guidance", "generating occupation", "writing objective", "placing character"]


def init_character(args: list[str], ctx: JobContext) -> Job:
    """A long-running fake: four stages, then a character entity in the account's world."""
    opts = parse_flags(
        args,
        {
            "gen-guidance": str,
            "gen-occ": str,
            "objective-text": str,
            "interval": _non_negative(float),
        },
    )
    return _init_character(ctx.world(), opts)


def _init_character(world: World, opts: dict[str, Any]) -> Job:
    for done, stage in enumerate(_STAGES, 1):
        yield Wait(opts.get("interval", 0.05))
        yield Progress({"stage": stage, "progress": {"done": done, "total": len(_STAGES)}})
    entity = world.add_entity(
        "character",
        "Wanderer",
        list(world.location["coord"]),
        occupation=opts.get("gen-occ", "wanderer"),
        guidance=opts.get("gen-guidance", ""),
        objective=opts.get("objective-text", "Explore the reach."),
    )
    return {"character_id": entity["id"], "entity": dict(entity)}


def place_ooi_sprites(args: list[str], ctx: JobContext) -> Job:
    """Stream the placement of N objects of interest within a radius (`--dry-run` keeps none)."""
    opts = parse_flags(
        args,
        {
            "dry-run": None,
            "n": _non_negative(int),
            "radius": _non_negative(int),
            "interval": _non_negative(float),
        },
    )
    return _place_ooi_sprites(ctx.world(), opts)


def _place_ooi_sprites(world: World, opts: dict[str, Any]) -> Job:
    count, radius = opts.get("n", 4), opts.get("radius", 400)
    dry_run = bool(opts.get("dry-run"))
    rng = random.Random(world.seed + count * 7919 + radius)
    placed = []
    for done in range(1, count + 1):
        yield Wait(opts.get("interval", 0.02))
        sprite = {"sprite": f"ooi_{rng.randrange(1000):03d}", "coord": World.near(rng, radius)}
        if not dry_run:
            sprite["entity_id"] = world.add_entity("ooi", sprite["sprite"], sprite["coord"])["id"]
        placed.append(sprite)
        yield Progress({"progress": {"done": done, "total": count}, "placed": sprite})
    return {"dry_run": dry_run, "radius": radius, "placed": placed}


Module = Callable[[list[str], JobContext], Job]

MODULES: dict[str, Module] = {
    "login_password": login_password,
    "worldstate_snapshot": worldstate_snapshot,
    "echo": echo,
    "long_job": long_job,
    "fail": fail,
    "init_character": init_character,
    "place_ooi_sprites": place_ooi_sprites,
}
# Modules that need no session; faults never touch them either.
LOGIN_MODULE = "login_password"
