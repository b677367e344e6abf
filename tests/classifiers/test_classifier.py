"""The shipped model (trained on the project's corpus) on posts it has not seen."""

import pytest

from classifiers.loader import build_classifier


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    import shutil

    from bot.config import load_config
    from tests.conftest import REPO
    folder = tmp_path_factory.mktemp("cfg")
    shutil.copy(REPO / "config.yaml", folder / "config.yaml")
    return build_classifier(load_config(folder / "config.yaml"))


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
