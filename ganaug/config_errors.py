"""Configuration mistakes as one short line with a "did you mean", for the ``ganaug`` command.

A key misspelt in a YAML file or a flag is the commonest configuration mistake. jsonargparse
(under LightningCLI) reports it after the whole usage text, and a dataclass raises a bare
``TypeError``; here it becomes a :class:`ConfigError` (a ``ValueError``, so the command prints
it as one line) naming the key, where it was and the closest accepted names (``difflib``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["ConfigError", "did_you_mean", "unknown_key_error", "explain_parser_error"]


class ConfigError(ValueError):
    """A configuration key or value the command cannot accept; the message says which and why."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for the close matches of ``name``, else ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def unknown_key_error(key: str, where: str, candidates: Iterable[str],
                      hint: str = "") -> ConfigError:
    """The error for ``key`` that ``where`` does not accept, with the close ``candidates``."""
    leaf = key.rsplit(".", 1)[-1]
    return ConfigError(f"{where} has no option {key!r}{did_you_mean(leaf, candidates)}"
                       + (f" ({hint})" if hint else ""))


# the shapes of jsonargparse's messages for an unknown key (checked against jsonargparse 4.x)
_SUBCOMMAND_OPTION = re.compile(r"does not accept option '([^']+)'")
_NESTED_OPTION = re.compile(r"class_path '([^']+)':\s*Option '([^']+)' is not accepted")
_PARSER_KEY = re.compile(r'Parser key "([^"]+)"')
_NESTED_VALUE = re.compile(r"class_path '([^']+)':\s*Parser key \"([^\"]+)\":\s*"
                           r"Expected a <class '([^']+)'>\. Got value: (.*)$", re.M)
_GIVEN_VALUE = re.compile(r"Given value: (.*)$", re.M)
_EXPECTED = re.compile(r"Expected a <class '([^']+)'>")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: --?([^\s=]+)")


def explain_parser_error(message: str, keys: Iterable[str],
                         class_options: dict[str, list[str]] | None = None,
                         hint: str = "") -> ConfigError:
    """A short :class:`ConfigError` for a jsonargparse ``message``.

    Args:
        message: the parser's error text (often many lines).
        keys: every dotted key the parser accepts (``trainer.max_epochs``, ``model``, ...).
        class_options: for a ``class_path`` the message names, the options its class accepts.
        hint: where to read every accepted key (appended in brackets).
    """
    keys = list(keys)
    nested = _NESTED_OPTION.search(message)
    if nested:
        class_path, option = nested.groups()
        parent = _PARSER_KEY.search(message)
        key = f"{parent.group(1)}.init_args.{option}" if parent else option
        options = (class_options or {}).get(class_path, [])
        return unknown_key_error(key, class_path, options, hint)
    unknown = _SUBCOMMAND_OPTION.search(message) or _UNRECOGNIZED.search(message)
    if unknown:
        return _unknown_dotted_key(unknown.group(1), keys, hint)
    inner = _NESTED_VALUE.search(message)
    if inner:
        class_path, option, expected, given = inner.groups()
        parent = _PARSER_KEY.search(message)
        key = f"{parent.group(1)}.init_args.{option}" if parent else option
        return ConfigError(f"{class_path} option {key!r} cannot be {given.strip()!r} (expected "
                           f"{expected})" + (f" ({hint})" if hint else ""))
    value = _GIVEN_VALUE.search(message)
    parent = _PARSER_KEY.search(message)
    if value and parent and not nested:
        expected = sorted(set(_EXPECTED.findall(message)) - {"NoneType"})
        return ConfigError(f"the config's {parent.group(1)!r} cannot be {value.group(1).strip()!r}"
                           + (f" (expected {' or '.join(expected)})" if expected else "")
                           + (f" ({hint})" if hint else ""))
    # anything else: its first lines, on one line
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    short = " ".join(lines[:6])
    return ConfigError(short[:400] + (" ..." if len(short) > 400 or len(lines) > 6 else "")
                       + (f" ({hint})" if hint else ""))


def _unknown_dotted_key(key: str, keys: list[str], hint: str) -> ConfigError:
    """The error for a dotted ``key`` (``trainer.max_epoch``) that none of ``keys`` matches."""
    parts = key.split(".")
    # the first part of the key that no accepted key continues is the misspelt one
    for depth in range(1, len(parts) + 1):
        prefix = ".".join(parts[:depth])
        if not any(k == prefix or k.startswith(prefix + ".") for k in keys):
            parent = ".".join(parts[:depth - 1])
            siblings = [k[len(parent) + 1 if parent else 0:].split(".")[0] for k in keys
                        if not parent or k.startswith(parent + ".")]
            where = f"the config's {parent!r}" if parent else "the config"
            return ConfigError(f"{where} has no key {parts[depth - 1]!r} (in {key!r})"
                               f"{did_you_mean(parts[depth - 1], siblings)}"
                               + (f" ({hint})" if hint else ""))
    return unknown_key_error(key, "the config", keys, hint)
