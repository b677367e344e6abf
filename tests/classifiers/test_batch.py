"""The batch path (`classify_many`, `citybot classify` in batches) gives exactly what one post at a time gives."""

import json

import pytest

from classifiers.batch import BadLine, classify_lines, waiting_batches

LONG = " ".join(["la farola de la calle Real está apagada y huele a gas"] * 360)[:20000]
POSTS = [
    ("la farola de mi portal lleva una semana sin encenderse", None),
    ("hay un socavón en mitad de la calzada en la avda de andalucía", "es"),
    ("farola fundida en C/ REAL nº 7", "es-ES"),
    ("Huele a gas en la plaza de España, es urgente", None),
    ("Un árbol caído corta la carretera de la ermita", "fr"),
    ("Streetlight out in front of 1423 Elm St for a week now", "en"),
    ("Someone spray painted tags all over the bus shelter", "EN"),
    ("pothole at 5th Ave and Main St, dangerous for bikes", "en-US"),
    ("Il y a des rats qui courent dans la cour de l'immeuble, il faut dératiser", None),
    ("lampadaire cassé rue Victor Hugo svp", "fr"),
    ("Musique à fond tous les soirs jusqu'à 3h du matin au bar d'en face", "de"),
    ("¡Muchas gracias por todo!", None),
    ("Thanks so much, great job 👏", "en"),
    ("merci", None),
    ("merci", "es"),
    ("ok", None),
    ("ok", "fr"),
    ("gracias", ""),
    ("", None),
    ("", "en"),
    ("   \t  ", None),
    (None, None),
    ("👍👍🔥", None),
    ("🚧🕳️🚗", "es"),
    ("https://example.org/report?id=12&x=%20y", None),
    ("mira esto https://t.co/AbC123 la farola otra vez", None),
    (LONG, None),
    ("a" * 5000, None),
    ("يوجد حفرة كبيرة في الشارع أمام المدرسة", None),
    ("На улице Ленина не горит фонарь уже неделю", "ru"),
    ("路灯坏了", None),
    ("\x00\x07\x1b[31mfarola\x08 rota\x7f", None),
    ("farola\u200b rota\u202e en la calle mayor", None),
    ("line one\nline two\r\nbache en la calle Nueva 12", None),
    ("12345", None),
    ("<3 :) ;-)", None),
    ("{not json} basura en la calle Ancha", None),
    ("c/ real 7 c/ mayor 9 avda. de andalucia", None),
    ("The zorblat machine on the corner is making that wheezing sound again", None),
    ("cable suelto en el parque, niños en peligro", "es"),
    ("\udcff farola rota en calle \udcff Real", None),  # lone surrogates, as a JSON "\\udcff" gives them
    ("Farola rota en 𝐂𝐚𝐥𝐥𝐞 𝐑𝐞𝐚𝐥 12", None),  # letters whose accent-free form is a capital
    ("la farola de mi portal lleva una semana sin encenderse", None),  # a repeat in the same batch
]


@pytest.mark.parametrize("batch_size", [256, 4])
def test_classify_many_equals_one_at_a_time(classifier, batch_size):
    texts = [text for text, _ in POSTS]
    hints = [hint for _, hint in POSTS]
    one_by_one = [classifier.classify(text, hint) for text, hint in POSTS]
    assert classifier._current.classify_many(texts, hints, batch_size=batch_size) == one_by_one
    assert classifier.classify_many(texts, hints) == one_by_one


def test_classify_many_without_hints_and_empty(classifier):
    texts = [text for text, _ in POSTS[:10]]
    assert classifier.classify_many(texts) == [classifier.classify(text) for text in texts]
    assert classifier.classify_many([]) == []


def test_lines_in_batches_then_the_bad_line_is_named(classifier):
    lines = ['{"text": "farola apagada en la calle Real", "lang": "es"}\n', "\n", "merci beaucoup !\n",
             '{"text": "pothole on Main St"}\n', '{"text": 3}\n', "never read\n"]
    out = []
    with pytest.raises(BadLine, match="line 5: a JSON line needs a string 'text'"):
        for batch in classify_lines(classifier, iter(lines), size=2):
            out += batch
    expected = [classifier.classify("farola apagada en la calle Real", "es"), classifier.classify("merci beaucoup !"),
                classifier.classify("pothole on Main St")]
    assert [json.loads(line) for line in out] == [r.to_json() for r in expected]


@pytest.mark.parametrize("line, message", [
    ("{oops\n", "line 1: not valid JSON"),
    ('{"txt": "a"}\n', "line 1: a JSON line needs a string 'text'"),
    ('{"text": "x", "lang": 5}\n', "line 1: 'lang' must be a string"),
])
def test_bad_lines(classifier, line, message):
    with pytest.raises(BadLine, match=message):
        list(classify_lines(classifier, [line]))


def test_waiting_batches_take_what_has_arrived_up_to_the_size():
    batches = list(waiting_batches((str(n) for n in range(1000)), size=64))
    assert [x for b in batches for x in b] == [str(n) for n in range(1000)]
    assert all(1 <= len(b) <= 64 for b in batches)

    def broken():
        yield "a"
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(UnicodeDecodeError):
        list(waiting_batches(broken()))


def test_stdin_chunks_split_lines_as_a_text_stdin_would_however_the_bytes_arrive():
    import io

    from classifiers.batch import stream_chunks

    data = "uno\r\ndos\rtres\nfarola rota en la calle Ñandú\n\n{\"text\": \"été\"}\nsin salto".encode()
    # a "\r" stays in its line, as POSIX sys.stdin keeps it (newline="\n"): one post, one answer

    class Trickle(io.BytesIO):  # hands over `step` bytes at a time, splitting "\r\n" and multi-byte letters
        def __init__(self, data: bytes, step: int) -> None:
            super().__init__(data)
            self.step = step

        def read1(self, size: int = -1) -> bytes:
            return super().read1(min(size, self.step))

    as_text = list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n"))
    assert as_text[:2] == ["uno\r\n", "dos\rtres\n"]
    for step in (1, 2, 3, 7, 1 << 16):
        chunks = list(stream_chunks(Trickle(data, step)))
        assert [line for chunk in chunks for line in chunk] == as_text
    # A byte that is not UTF-8 becomes U+FFFD; the post is still read (and classified).
    assert [line for chunk in stream_chunks(io.BytesIO(b"ok\ncaf\xe9 \xc3\n")) for line in chunk] == ["ok\n", "caf\ufffd \ufffd\n"]


def test_chunks_become_batches_of_at_most_the_size_in_order_then_the_error():
    from classifiers.batch import waiting_chunk_batches

    def chunks():
        yield from (["a", "b", "c"], ["d"], ["e", "f", "g", "h", "i"])
        raise ValueError("broken stdin")

    seen = []
    with pytest.raises(ValueError, match="broken stdin"):
        for batch in waiting_chunk_batches(chunks(), size=2):
            assert 1 <= len(batch) <= 2
            seen += batch
    assert seen == list("abcdefghi")


def test_citybot_classify_answers_each_line_as_it_arrives(tmp_path):
    import shutil
    import subprocess
    import sys
    import threading

    from tests.conftest import REPO

    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(tmp_path / "config.yaml"), "classify"],
                               cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(120, process.kill)  # a hung read fails the test instead of hanging it
    watchdog.start()
    try:
        for line in ("la farola de la calle Real está apagada\n".encode(), b"merci beaucoup\r\n", b"caf\xe9 \xff\n"):
            process.stdin.write(line)
            process.stdin.flush()  # the pipe stays open: the answer must come before any more input
            answer = json.loads(process.stdout.readline())
            assert answer["lang"] in ("es", "fr", "en") and set(answer) >= {"category", "is_request", "location"}
        process.stdin.close()
        assert process.wait(60) == 0
    finally:
        watchdog.cancel()
        process.kill()
