from bot.safe_text import neutralize


def test_ansi_osc8_and_bidi_are_shown_not_interpreted():
    hostile = "\x1b[31mred\x1b[0m \x1b]8;;http://evil.example\x07click\x1b]8;;\x07 \u202egnp.exe \x9b2J"
    safe = neutralize(hostile)
    assert "\x1b" not in safe and "\x07" not in safe and "\u202e" not in safe and "\x9b" not in safe
    assert "\\x1b[31mred" in safe and "\\u202e" in safe and "\\x9b2J" in safe


def test_ordinary_text_is_untouched():
    text = "La farola de la calle Réal está apagada 💡\nGracias"
    assert neutralize(text) == text
    assert neutralize(text, single_line=True) == "La farola de la calle Réal está apagada 💡 ⏎ Gracias"
