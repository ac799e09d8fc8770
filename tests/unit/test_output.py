"""Program output -> prefixed lines, as the supervisord extension writes them."""

import os
import tempfile

from deepdocker_supervisor.extension import MAX_PARTIAL, _Output


def capture(feed):
    """What feed() writes to fd 1 (a file, not a pipe: a pipe would fill and block)."""
    with tempfile.TemporaryFile() as f:
        saved = os.dup(1)
        os.dup2(f.fileno(), 1)
        try:
            feed()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        f.seek(0)
        return f.read()


def test_lines_are_prefixed_and_partial_lines_wait():
    out = _Output(width=11)
    data = capture(lambda: (out.feed("jupyter", 1, b"one\ntw"), out.feed("jupyter", 1, b"o\r\nthree")))
    assert data == b"jupyter     | one\njupyter     | two\n"
    data = capture(lambda: out.flush("jupyter"))
    assert data == b"jupyter     | three\n"
    assert list(out.last["jupyter"]) == ["one", "two", "three"]


def test_streams_do_not_mix_partial_lines():
    out = _Output(width=4)
    data = capture(
        lambda: (out.feed("sshd", 1, b"half"), out.feed("tb", 1, b"other\n"), out.feed("sshd", 1, b"-line\n"))
    )
    assert data == b"tb   | other\nsshd | half-line\n"


def test_a_line_without_newline_cannot_grow_memory():
    out = _Output(width=1)
    data = capture(lambda: out.feed("x", 1, b"a" * (MAX_PARTIAL + 1)))
    assert data == b"x | " + b"a" * (MAX_PARTIAL + 1) + b"\n"
    assert not out.partial


def test_last_lines_are_bounded():
    out = _Output(width=1)
    capture(lambda: out.feed("x", 2, b"".join(b"%d\n" % i for i in range(100))))
    assert list(out.last["x"]) == [str(i) for i in range(80, 100)]
