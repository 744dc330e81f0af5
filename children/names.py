"""Name normalisation and phonetic keys, computed on write and stored indexed.

"Kociński" -> "kocinski", "O'Reilly" -> "oreilly", "Smith-Jones" -> parts
["smith", "jones"] matched separately as well as whole (SPEC 3.7).
"""

import re
import unicodedata
from functools import lru_cache

from doublemetaphone import doublemetaphone

# Letters that NFKD does not decompose into ASCII.
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
                       "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "ð": "d", "ı": "i"})


def fold(value: str) -> str:
    """Lower-case ASCII with diacritics removed; punctuation other than separators dropped."""
    value = unicodedata.normalize("NFKD", (value or "").translate(_FOLD))
    value = "".join(c for c in value if not unicodedata.combining(c))
    value = value.encode("ascii", "ignore").decode().lower()
    value = re.sub(r"[\s\-_/]+", " ", value)  # separators: hyphen, slash, spaces
    return re.sub(r"[^a-z ]", "", value).strip()


def normalise(value: str) -> str:
    """The whole name as one comparable token: 'Smith-Jones' -> 'smithjones'."""
    return fold(value).replace(" ", "")


def parts(value: str) -> list[str]:
    """Each part of a hyphenated or multi-word name: 'Smith-Jones' -> ['smith', 'jones']."""
    return [p for p in fold(value).split(" ") if p]


def phonetic(value: str) -> str:
    """Primary Double Metaphone key of the normalised name ('' for no letters)."""
    norm = normalise(value)
    return doublemetaphone(norm)[0] if norm else ""


def phonetic_keys(value: str) -> set[str]:
    """Both Double Metaphone keys of the name and of each of its parts."""
    keys = set()
    for token in {normalise(value), *parts(value)}:
        if token:
            keys.update(k for k in doublemetaphone(token) if k)
    return keys


@lru_cache(maxsize=65536)
def keys(value: str) -> tuple[str, ...]:
    """Double Metaphone keys (primary, then the alternate when it differs) of one token."""
    if not value:
        return ()
    primary, alternate = doublemetaphone(value)
    return tuple(k for k in dict.fromkeys((primary, alternate)) if k)


def family_tokens(family_name: str) -> list[str]:
    """The whole family name and, when hyphenated or double-barrelled, each part."""
    whole = normalise(family_name)
    tokens = [whole] if whole else []
    tokens += [p for p in parts(family_name) if p not in tokens] if len(parts(family_name)) > 1 else []
    return tokens


def given_tokens(given_names: str, *, limit: int = 3) -> list[str]:
    """Each given name (first, middle...), normalised: people are known by middle names too."""
    return list(dict.fromkeys(parts(given_names)))[:limit]


def blocking_keys(given_names: str, family_name: str) -> list[tuple[str, str, str, str]]:
    """(given token, family token, given key, family key) for every pairing of tokens and their
    Double Metaphone keys: the rows the matching engine looks names up by."""
    givens = given_tokens(given_names) or [""]
    families = family_tokens(family_name) or [""]
    rows = []
    for given in givens:
        for family in families:
            for given_key in keys(given) or [""]:
                for family_key in keys(family) or [""]:
                    rows.append((given, family, given_key, family_key))
    return list(dict.fromkeys(rows))
