from hypothesis import given
from hypothesis import strategies as st

from children import names


def test_diacritics_and_punctuation_are_stripped():
    assert names.normalise("Kociński") == "kocinski"
    assert names.normalise("O'Reilly") == "oreilly"
    assert names.normalise("Łukasz") == "lukasz"
    assert names.normalise("Smith-Jones") == "smithjones"


def test_hyphenated_and_double_barrelled_names_split_into_parts():
    assert names.parts("Smith-Jones") == ["smith", "jones"]
    assert names.parts("Ward  Prowse") == ["ward", "prowse"]


def test_names_that_sound_alike_share_a_phonetic_key():
    assert names.phonetic("Smith") == names.phonetic("Smyth")
    assert names.phonetic("Mohammed") == names.phonetic("Muhammad")
    assert names.phonetic_keys("Catherine") & names.phonetic_keys("Katherine")


@given(st.text(max_size=40))
def test_normalised_names_are_plain_ascii_letters_for_any_input(value):
    out = names.normalise(value)
    assert out == "" or (out.isascii() and out.isalpha() and out.islower())
    assert "\x00" not in out
