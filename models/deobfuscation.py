"""Undo cheap evasions of word filters, on text already normalized (case-folded NFKC).

* invisible and control characters (zero-width spaces and joiners, soft hyphens, bidi marks)
  are removed, so "re\u200bplica" reads "replica";
* four or more letters spaced or dotted one by one ("r e p l i c a", "r.e.p.l.i.c.a") are
  joined (three or fewer, such as "a b c", "s m l" or "u.s.a.", are left alone);
* look-alike letters from Cyrillic and Greek inside a word with Latin letters are read as the
  Latin letter they imitate ("replica" written with a Cyrillic e);
* in a word of letters with one or two single digits inside ("r0lex", "c4rd", "v1agra"), the
  digits that stand for letters are read as those letters; words with a digit at an edge or a
  run of digits ("2.5mg", "iphone13", "h1n1", "rtx3050ti") are kept. Model names with one inner
  digit ("s7edge", "ps5pro") are read the same way; training and serving read them alike.

:func:`deobfuscate` is idempotent. Feature version 2 hashes the words it recovers in place of
the evasive spellings, so a model trained on plain text reads an evasion as the plain words; text
that none of the rules above touches hashes exactly as in version 1.
"""

import re
import unicodedata
from typing import Final

_INVISIBLE: Final = frozenset("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u3164\ufeff")


def _is_invisible(character: str) -> bool:
    if character in "\t\n\r ":
        return False
    return character in _INVISIBLE or unicodedata.category(character) in ("Cc", "Cf")


HOMOGLYPHS: Final = str.maketrans(
    {
        # Cyrillic (U+04xx, U+05xx), Latin script g, then Greek (U+03xx)
        "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u043a": "k", "\u043c": "m",
        "\u043d": "h", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y",
        "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0457": "i", "\u0458": "j", "\u0501": "d",
        "\u04cf": "l", "\u051b": "q", "\u051d": "w", "\u0261": "g", "\u03b1": "a", "\u03b2": "b",
        "\u03b5": "e", "\u03b7": "n", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o",
        "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u03c9": "w", "\u03b3": "y",
    }
)  # fmt: skip
"""Look-alike letters and the Latin letter each imitates (lower case: text is case-folded)."""

LEET: Final = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}

_LATIN = re.compile(r"[a-z]")
_WORD = re.compile(r"\S+")
_SPACED = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][ .\-_*·]){3,}[^\W\d_](?![^\W\d_])")
_SEPARATORS = re.compile(r"[ .\-_*·]")
_LEET_DIGIT = re.compile(r"(?<=[a-z])[013457](?=[a-z])")
_LEET_WORD = re.compile(r"[a-z]+(?:[013457][a-z]+){1,2}")
"""A word of letters with one or two single leet digits inside (r0lex, c4rd, v1agr4 is not)."""


def deobfuscate(text: str) -> str:
    """``text`` (normalized) with the evasions above undone; whitespace is left as it was."""
    visible = "".join(character for character in text if not _is_invisible(character))
    joined = _SPACED.sub(lambda match: _SEPARATORS.sub("", match.group()), visible)
    return _WORD.sub(_read_word, joined)


def _read_word(match: re.Match[str]) -> str:
    word = match.group()
    if _LATIN.search(word):
        word = word.translate(HOMOGLYPHS)
    if _LEET_WORD.fullmatch(word) and sum(c.isalpha() for c in word) >= 3:
        return _LEET_DIGIT.sub(lambda digit: LEET[digit.group()], word)
    return word
