"""The shipped model (trained on the project's corpus) on posts it has not seen."""

import pytest


@pytest.mark.parametrize("text, category, lang", [
    ("la farola de mi portal lleva una semana sin encenderse", "streetlight", "es"),
    ("hay un socavón en mitad de la calzada en la avda de andalucía", "roads", "es"),
    ("El contenedor de la esquina está a rebosar y huele fatal", "waste", "es"),
    ("Streetlight out in front of 1423 Elm St for a week now", "streetlight", "en"),
    ("Someone spray painted tags all over the bus shelter", "graffiti", "en"),
    ("Car with no plates abandoned on our street for a month", "parking_vehicles", "en"),
    ("Il y a des rats qui courent dans la cour de l'immeuble, il faut dératiser", "pests_animals", "fr"),
    ("Musique à fond tous les soirs jusqu'à 3h du matin au bar d'en face", "noise", "fr"),
    ("Une grosse branche menace de tomber sur le trottoir", "trees", "fr"),
    # the bad inputs around a real request: 20,000 characters, control and invisible
    # characters, mixed languages, a link, styled letters
    (" ".join(["la farola de la calle Real está apagada y huele a gas"] * 360)[:20000], "streetlight", "es"),
    ("\x00\x07\x1b[31mfarola\x08 rota\x7f en la calle Real", "streetlight", "es"),
    ("farola\u200b rota\u202e en la calle mayor", "streetlight", "es"),
    ("la farola está rota and the pothole is huge, aussi le lampadaire", "streetlight", "es"),
    ("mira esto https://t.co/AbC123 la farola otra vez apagada", "streetlight", "es"),
    ("Ⓕⓐⓡⓞⓛⓐ ⓡⓞⓣⓐ", "streetlight", "es"),  # styled letters fold to plain ones
])
def test_requests_in_three_languages(classifier, text, category, lang):
    result = classifier.classify(text)
    assert (result.category, result.is_request, result.lang) == (category, True, lang)


@pytest.mark.parametrize("text", ["¡Muchas gracias por todo!", "Thanks so much, great job 👏", "Bonjour, à quelle heure ouvre la mairie samedi ?"])
def test_thanks_and_questions_are_not_requests(classifier, text):
    result = classifier.classify(text)
    assert result.is_request is False and result.category is None


def test_danger_is_urgent_with_a_reason(classifier):
    result = classifier.classify("Un árbol caído corta la carretera de la ermita")
    assert result.is_request and result.priority == "urgent" and "fallen tree" in result.priority_reason
