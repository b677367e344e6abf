from classifiers.features import feature_text
from classifiers.language import detect_language
from classifiers.location import Gazetteer, extract_location, without_places
from classifiers.priority import assess_priority


def test_features_fold_accents_and_add_stems_and_char_4_and_5_grams():
    features = feature_text("Las FAROLAS están 24 h").split()
    assert features[:3] == ["las", "^las", "las^"]
    assert "farolas" in features and "farol~" in features and "^far" in features and "olas^" in features
    assert "^fa" not in features  # no 3-grams
    assert "estan" in features and "^num^" in features and "está" not in features
    assert feature_text("👍") == "👍" and feature_text("") == "^empty^"


def test_each_feature_reaches_the_textcat_as_one_token():
    # spaCy's tokenizer would split some features ("^88t" into "^88" and "t"), so the textcat's
    # doc is built from the features themselves.
    import spacy

    from classifiers.model import feature_doc

    nlp = spacy.blank("xx")
    for text in ("Las farolas de la plaza, 3 noches apagadas!! 😡", "bache de 88t en la 3ª curva", "5km de baches"):
        assert [t.text for t in feature_doc(nlp, text)] == feature_text(text).split()
    assert "^88t" in [t.text for t in feature_doc(nlp, "bache de 88t")]


def test_folding_drops_accents_keeps_enye_and_other_scripts():
    from classifiers.text import fold

    assert fold("ÁRBOL Caído en la Peñuela") == "arbol caido en la peñuela"
    assert fold("n\u0303o e\u0301\u0327") == "no e"  # decomposed accents dropped too
    assert fold("Ελληνικά ά, На улице Ленина, 路灯, 🚧") == "ελληνικα α, на улице ленина, 路灯, 🚧"
    assert fold("ﬁne ① ｆｕｌｌ") == "fine 1 full"  # compatibility forms
    assert fold("a\x00b") == "a\x00b"
    assert fold("𝐂𝐚𝐥𝐥𝐞 ℝeal") == "calle real"  # no lower case of their own; their decomposition has one


def test_one_scan_gives_the_text_without_places_and_the_place():
    from classifiers import location
    from classifiers.base import Location
    from classifiers.location import scan_places

    def without_places(text):  # the reference: each pattern on its own, without the scan's shortcuts
        return location._EN_SUFFIXED.sub(location._blank, location._PREFIXED.sub(location._blank, text))

    def extract_location(text):
        for pattern in (location._PREFIXED, location._EN_SUFFIXED, location._LANDMARK):
            match = pattern.search(text)
            if match:
                return Location(text=match.group(0).strip(" ,."))
        return None

    texts = ["Calle Real 3 and 5th Ave and Main St", "Broken Street Light on Oak St", "CALLE MAYOR 3 y AVDA. DE LA PAZ 4",
             "PRÈS DE L'ÉCOLE", "En Face Du Parc", "FRENTE AL Colegio", "xcalle Real", "rue Haute rue Basse 12",
             # letters Python's case-insensitive matching equates with i and s, and one whose lower case is longer
             "caſe CALLE Real", "ıcalle Real", "İstanbul CALLE Real 4", "", "near", "farola rota"]
    for text in texts:
        assert scan_places(text) == (without_places(text), extract_location(text)), text


def test_street_names_are_not_features():
    assert without_places("pothole on Oak St near 1101 Varney Street SE").split() == ["pothole", "on", "near", "SE"]
    assert without_places("bache en calle Mayor 12, gracias").split() == ["bache", "en", ",", "gracias"]
    assert without_places("nid de poule rue des Ormes svp").split() == ["nid", "de", "poule", "svp"]
    assert without_places("Broken Street Light") == "Broken Street Light"  # a title, not a place
    assert "oak" not in feature_text("Streetlight out on Oak St").split()


def test_place_patterns_in_three_languages():
    assert extract_location("La farola de la calle Real 12 no va").text == "calle Real 12"
    assert extract_location("bache en avda. de la Constitución").text == "avda. de la Constitución"
    assert extract_location("lampadaire cassé rue Victor Hugo svp").text == "rue Victor Hugo"
    assert extract_location("pothole at 5th Ave and Main St").text == "5th Ave and Main St"
    assert extract_location("basura frente al colegio").text == "frente al colegio"
    assert extract_location("I nearly fell") is None


def test_gazetteer_ignores_case_accents_and_abbreviations():
    streets = Gazetteer(["Calle Real", "Avenida de Andalucía", "Paseo del Río"])
    assert streets.find("farola fundida en C/ REAL nº 7").text == "Calle Real 7"
    assert streets.find("bache en la avda de andalucia").text == "Avenida de Andalucía"
    assert streets.find("árbol caído en el paseo del rio, 3").text == "Paseo del Río 3"
    assert streets.find("nada que ver") is None
    assert streets.find("really, real life") is None
    assert streets.find("Farola rota en 𝐂𝐚𝐥𝐥𝐞 𝐑𝐞𝐚𝐥 12").text == "Calle Real 12"  # styled letters fold to capitals


def test_gazetteer_finds_street_names_in_other_scripts():
    streets = Gazetteer(["Улица Ленина", "Calle Real"])
    assert streets.find("фонарь на улица ленина 5 не горит").text == "Улица Ленина 5"
    assert streets.find("farola en calle real").text == "Calle Real"


def test_danger_gives_a_readable_reason():
    assert assess_priority("hay un cable pelado colgando junto al parque") == ("urgent", "live wire: 'cable pelado'")
    assert assess_priority("ça sent le gaz, odeur de gaz rue Haute")[0] == "urgent"
    assert assess_priority("Tree down across Elm Road, blocking both lanes")[1] == "fallen tree: 'tree down'"
    assert assess_priority("la farola está apagada") == ("normal", None)


def test_language_detection_with_hint_fallback():
    langs = ["es", "en", "fr"]
    assert detect_language("La farola de mi calle lleva días apagada", langs) == "es"
    assert detect_language("The streetlight outside my house is out", langs) == "en"
    assert detect_language("Le lampadaire de ma rue est en panne", langs) == "fr"
    assert detect_language("merci", langs, default="es") == "fr"
    assert detect_language("👍", langs, hint="fr", default="es") == "fr"
