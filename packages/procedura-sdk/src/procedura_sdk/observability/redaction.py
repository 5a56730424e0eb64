"""The one redactor: everything Procedura persists or logs passes through it first.

Three rules, written down in the package README and tested one by one:

* **Keys.** A mapping key is split into words (at ``_``, ``-``, ``.``, spaces and
  camelCase humps) and lower-cased. It is sensitive when one of its words is a
  sensitive word (``password``, ``token``, ``secret``, ``auth``, ``cookie``,
  ``session``, ...), when two adjacent words form a sensitive pair (``api key``,
  ``private key``, ...), or when a word *ends in* ``password``, ``passwd``,
  ``secret`` or ``token`` (``accesstoken``, ``dbpassword``). Words are matched
  whole, so ``tokens``, ``author`` and ``keyboard`` stay visible; and a key whose
  *last* word says it describes a secret rather than holds it (``tokens_used``,
  ``token_count``, ``token_type``, ``token_file``, ``password_expires_at``) stays
  visible too. The value of a sensitive key is replaced whole, whatever its type.
* **Arguments.** The credential of ``login_password`` keeps only its account
  (``user@example.com:<redacted>``; an encoded credential is hidden whole);
  ``--flag=value`` and ``--flag value`` pairs whose flag name is a sensitive key
  lose their value, and in a whole record (:meth:`Redactor.redact_record`) the
  values hidden there are hidden wherever else they appear (a module may echo
  its arguments back).
* **Values.** In every string: URL userinfo passwords
  (``wss://user:<redacted>@host``), ``Bearer``/``Basic`` credentials,
  ``key=value`` pairs with a sensitive key (query strings, ``--password=x``),
  and every secret registered with :meth:`Redactor.add_secret` (the live token,
  the password just used) wherever it appears.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"

SENSITIVE_WORDS = frozenset(
    {
        # the guide's list
        "password", "token", "secret",
        # Sentry's default deny-list, word by word
        "passwd", "pwd", "apikey", "auth", "authorization", "credential", "credentials",
        "privatekey", "session", "sessionid", "cookie", "cookies", "csrf", "xsrf",
        "csrftoken", "phpsessid", "sid",
        # common spellings of the same things
        "passphrase", "bearer", "jwt", "otp", "totp", "mfa", "pin", "signature",
    }
)

SENSITIVE_PAIRS = frozenset(
    {
        ("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"),
        ("client", "secret"), ("set", "cookie"), ("forwarded", "for"), ("connect", "sid"),
    }
)

SENSITIVE_SUFFIXES = ("password", "passwd", "secret", "token")

# Last words that make a key *about* a secret, not the secret itself.
DESCRIPTIVE_LAST_WORDS = frozenset(
    {
        "used", "count", "counts", "limit", "limits", "type", "kind", "length", "len", "size",
        "ttl", "at", "expiry", "expires", "expiration", "file", "path", "dir", "url", "present",
        "required", "set",
    }
)

# The module whose first argument is a credential (PROTOCOL.md, "Login").
CREDENTIAL_MODULES = frozenset({"login_password"})

_WORD_SPLIT = re.compile(r"[^0-9A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Every pattern that begins with a run of word characters is anchored by a lookbehind
# to the start of that run: otherwise the engine retries from each position inside a
# long run and a large value (an 8 MiB answer) takes quadratic time.
_URL_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"
)
_AUTH_SCHEME = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)(?P<sep>\s+)(?P<cred>[A-Za-z0-9\-._~+/=]+)", re.IGNORECASE)
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<key>[^\"'\s]{1,64})(?P=q)(?P<sep>\s*:\s*)(?P<vq>[\"'])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)"
)
# A key may be written as a command-line flag (``--password=x``), hence the dashes.
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<dashes>-{0,2})(?P<key>[A-Za-z][A-Za-z0-9_.\-]*)(?P<eq>=)(?P<value>[^&;,\s]+)"
)


def key_words(key: str) -> list[str]:
    """``"X-Api-Key"`` -> ``["x", "api", "key"]``; ``"sessionToken"`` -> ``["session", "token"]``."""
    words: list[str] = []
    for part in _WORD_SPLIT.split(key):
        if part:
            words.extend(w.lower() for w in _CAMEL.split(part) if w)
    return words


def is_sensitive_key(key: object) -> bool:
    """Whether the value stored under ``key`` must be hidden (the key rule in the module docstring)."""
    return isinstance(key, str) and _is_sensitive_key(key)


@functools.lru_cache(maxsize=4096)  # records repeat the same few dozen keys
def _is_sensitive_key(key: str) -> bool:
    words = key_words(key)
    if len(words) > 1 and words[-1] in DESCRIPTIVE_LAST_WORDS:
        return False
    for i, word in enumerate(words):
        if word in SENSITIVE_WORDS or word.endswith(SENSITIVE_SUFFIXES):
            return True
        if i + 1 < len(words) and (word, words[i + 1]) in SENSITIVE_PAIRS:
            return True
    return False


class Redactor:
    """Applies the key, argument and value rules; holds the secrets known at run time."""

    def __init__(self, secrets: Iterable[str | None] = (), *, min_secret_length: int = 6) -> None:
        self._secrets: set[str] = set()
        self._longest_first: tuple[str, ...] = ()  # so that a secret inside another goes second
        self._min_secret_length = min_secret_length
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        """Hide ``secret`` wherever it appears from now on. Strings shorter than the minimum are
        ignored by the process-wide redactor: they would hide ordinary text and protect nothing;
        a short-lived redactor for one login can take short passwords."""
        if secret and len(secret) >= self._min_secret_length and secret not in self._secrets:
            self._secrets.add(secret)
            self._longest_first = tuple(sorted(self._secrets, key=len, reverse=True))

    # -- values ---------------------------------------------------------------
    def redact_text(self, text: str) -> str:
        """Apply the value rules to one string."""
        text = self._hide_secrets(text)
        # Each rule needs a character most strings lack; testing for it first keeps
        # the common case (ids, timestamps, names) free of regular expressions.
        if ":" in text and ('"' in text or "'" in text):
            text = _QUOTED_PAIR.sub(
                lambda m: f"{m['q']}{m['key']}{m['q']}{m['sep']}{m['vq']}{REDACTED}{m['vq']}"
                if is_sensitive_key(m["key"])
                else m[0],
                text,
            )
        if "@" in text:
            text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
        if " " in text or "\t" in text:
            text = _AUTH_SCHEME.sub(
                lambda m: m[0] if m["cred"] == REDACTED else f"{m['scheme']}{m['sep']}{REDACTED}",
                text,
            )
        if "=" in text:
            text = _KEY_VALUE.sub(
                lambda m: f"{m['dashes']}{m['key']}={REDACTED}" if is_sensitive_key(m["key"]) else m[0],
                text,
            )
        return text

    def _hide_secrets(self, text: str) -> str:
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact(self, value: Any) -> Any:
        """A redacted deep copy of a JSON-like value (dicts, lists, tuples, strings, scalars).

        Keys keep their text, except that registered secrets are hidden in them too
        (a token can be a key: sessions keyed by token)."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {
                (self._hide_secrets(k) if self._secrets and isinstance(k, str) else k):
                    (REDACTED if is_sensitive_key(k) else self.redact(v))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.redact(v) for v in value]
        return value

    # -- arguments ------------------------------------------------------------
    def redact_args(self, cmd: str, args: Iterable[Any], hidden: list[str] | None = None) -> list[Any]:
        """A module's argument list with credentials and secret-bearing flags hidden.

        What was hidden is appended to ``hidden`` when given, so that the caller can
        hide the same values wherever else they appear (a module may echo them back).
        """
        out: list[Any] = []
        found: list[str] = []
        hide_next = False
        for index, arg in enumerate(args):
            if not isinstance(arg, str):
                out.append(self.redact(arg))
                hide_next = False
                continue
            if hide_next:
                out.append(REDACTED)
                found.append(arg)
                hide_next = False
                continue
            if index == 0 and cmd in CREDENTIAL_MODULES and not arg.startswith("-"):
                shown = redact_credential(arg)
                out.append(shown)
                found.append(arg if shown == REDACTED else arg.partition(":")[2])
                continue
            if arg.startswith("-"):
                name, eq, value = arg.lstrip("-").partition("=")
                if is_sensitive_key(name):
                    if eq:
                        out.append(f"{arg.split('=', 1)[0]}={REDACTED}")
                        found.append(value)
                    else:
                        out.append(arg)
                        hide_next = True
                    continue
            out.append(self.redact_text(arg))
        if hidden is not None:  # what was already redacted is no secret (and must stay readable)
            hidden.extend(f for f in found if f and REDACTED not in f)
        return out

    def redact_record(self, record: dict[str, Any], cmd: str, args: Iterable[Any]) -> dict[str, Any]:
        """A whole record redacted: its ``args`` by the argument rules, everything else by the
        key and value rules, and the values hidden in the arguments wherever else they appear."""
        hidden: list[str] = []
        record = dict(record)
        record["args"] = self.redact_args(cmd, args, hidden)
        scoped = Redactor([*self._secrets, *hidden], min_secret_length=4) if hidden else self
        return scoped.redact(record)


def redact_credential(credential: str) -> str:
    """``user@example.com:pw`` -> ``user@example.com:<redacted>``; anything else -> ``<redacted>``."""
    if not credential.startswith("b64:"):
        account, sep, _password = credential.partition(":")
        if sep and "@" in account:
            return f"{account}:{REDACTED}"
    return REDACTED


# The process-wide redactor: the recorder and the logging filter share it, so a
# secret registered once (the token after login) is hidden everywhere.
default_redactor = Redactor()
