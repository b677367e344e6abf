"""Language rules that need no trained model: scripts, posts with no letters, languages the city does not read."""

import pytest

from classifiers.language import UNDETERMINED, detect_languages, has_letters, main_script

CITY = ["es", "en", "fr"]


@pytest.mark.parametrize("text, script", [
    ("", None), ("  \t ", None), ("👍👍🔥", None), ("12345 !!", None), ("<3 :) ;-)", None),
    ("https://example.org/report?id=12&x=%20y", None), ("www.example.org", None),
    ("mira https://t.co/AbC123", "LATIN"), ("Ñandú", "LATIN"), ("𝐂𝐚𝐥𝐥𝐞 𝐑𝐞𝐚𝐥", "LATIN"), ("ＣＡＬＬＥ", "LATIN"),
    ("يوجد حفرة كبيرة في الشارع", "ARABIC"), ("На улице Ленина не горит фонарь", "CYRILLIC"), ("路灯坏了", "CJK"),
    ("Ελληνικά", "GREEK"), ("farola rota, улица", "LATIN"), ("улица Ленина, calle", "CYRILLIC"),
])
def test_main_script(text, script):
    assert main_script(text) == script


def test_styled_letters_are_letters_once_folded():
    for text in ["Ⓕⓐⓡⓞⓛⓐ ⓡⓞⓣⓐ", "🄵🄰🅁🄾🄻🄰", "ᶠᵃʳᵒˡᵃ ʳᵒᵗᵃ", "ℹ️"]:
        assert has_letters(text)
    assert UNDETERMINED not in detect_languages(["Ⓕⓐⓡⓞⓛⓐ ⓡⓞⓣⓐ", "ᶠᵃʳᵒˡᵃ ʳᵒᵗᵃ"], CITY, [None, None], "fr")
    assert not has_letters("👍 12 https://example.org/farola")


def test_a_post_with_no_letters_is_undetermined_unless_the_hint_is_a_city_language():
    texts = ["🚧🕳️🚗", "12345", "https://example.org/x", "👍"]
    assert detect_languages(texts, CITY, [None] * 4, "es") == [UNDETERMINED] * 4
    assert detect_languages(texts, CITY, ["fr", "de", "es-ES", "en_GB"], "es") == ["fr", UNDETERMINED, "es", "en"]


def test_a_script_no_city_language_uses_is_undetermined_whatever_the_hint():
    arabic, cyrillic = "يوجد حفرة كبيرة في الشارع أمام المدرسة", "На улице Ленина не горит фонарь уже неделю"
    assert detect_languages([arabic, cyrillic], CITY, ["es", "ru"], "es") == [UNDETERMINED, UNDETERMINED]
    # A city that writes Russian reads it; Mongolian is Cyrillic too, Serbian either script.
    assert detect_languages([cyrillic], ["es", "ru"], [None], "es") == ["ru"]
    assert detect_languages([cyrillic], ["ru"], [None], "ru") == ["ru"]
    assert detect_languages(["Улаанбаатар хотын гудамжны гэрэл асахгүй байна"], ["mn"], [None], "mn") == ["mn"]
    assert detect_languages(["Ulična svetiljka ne radi", "Улична светиљка не ради"], ["sr"], [None, None], "sr") == ["sr", "sr"]


@pytest.mark.parametrize("text", [
    "Die Straßenlaterne vor meinem Haus ist seit einer Woche kaputt",
    "Il lampione in via Roma è spento da giorni",
    "Er ligt een omgevallen boom op het fietspad",
    # marker words of ours that are everyday words of these languages too do not save them
    "Il lampione del parco è spento da giorni",
    "Er is een groot gat in de weg bij de school",
    "Die Beleuchtung des Spielplatzes ist kaputt",
])
def test_a_language_the_city_does_not_read_is_undetermined(text):
    unsure = {"es": 0.4, "en": 0.3, "fr": 0.3}  # as the textcat is on these
    assert detect_languages([text], CITY, [None], "es", [unsure]) == [UNDETERMINED]
    assert detect_languages([text], CITY, [None], "es") == [UNDETERMINED]


def test_a_city_that_writes_one_of_the_other_languages_reads_it():
    text = "Die Straßenlaterne vor meinem Haus ist seit einer Woche kaputt"
    assert detect_languages([text], ["es", "de"], [None], "es") == ["de"]


def test_what_keeps_a_post_in_the_citys_languages():
    # Lingua puts each in Portuguese (0.94, 0.92), below the 0.95 it takes.
    assert detect_languages(["Desbroce solar municipal c/ Mar Menor", "Alarma sonando, Avda. de Brasil 10"],
                            CITY, [None, None], "es") == ["es", "es"]
    # A word only the city's languages use ("pls", "calle", "svp") keeps a post theirs.
    assert detect_languages(["pls die Straßenlaterne vor meinem Haus ist kaputt"], CITY, [None], "es") != [UNDETERMINED]
    assert detect_languages(["die Straßenlaterne vor meinem Haus ist kaputt"], CITY, [None], "es") == [UNDETERMINED]
    # A link is not words: one English word and a German address.
    assert detect_languages(["see https://www.muenchen.de/rathaus/strassenbeleuchtung-defekt-melden"],
                            CITY, [None], "es") == ["en"]


def test_short_posts_are_never_called_foreign():
    # Three words or fewer say too little; the city's languages decide as before.
    assert detect_languages(["Danke schön"], CITY, [None], "es") != [UNDETERMINED]
    assert detect_languages(["yep"], CITY, [None], "es") != [UNDETERMINED]


def test_the_citys_languages_still_win_among_themselves():
    texts = ["La farola de mi calle lleva días apagada", "The streetlight outside my house is out",
             "Le lampadaire de ma rue est en panne", "pls fix the lite on main st"]
    assert detect_languages(texts, CITY, [None] * 4, "es") == ["es", "en", "fr", "en"]
