"""Name normalisation and phonetic keys, computed on write and stored indexed.

"Kociński" -> "kocinski", "O'Reilly" -> "oreilly", "Smith-Jones" -> parts
["smith", "jones"] matched separately as well as whole (SPEC 3.7).
"""

import re
import unicodedata

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
