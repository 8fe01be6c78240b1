"""The secrets file's dotenv dialect: the reader, the writer, and that they agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avrgen.errors import SecretsError
from avrgen.fs.dotenv import parse_secrets, read_secrets_file, secret_line, secrets_text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    return path


def test_values_are_the_text_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# a comment\n"
        "\n"
        "PLAIN=abc def  # trailing comment\n"
        "export EXPORTED=yes\n"
        "SINGLE='$HOME \\n #not a comment'\n"
        'DOUBLE="line1\\nline2 \\"q\\" \\\\ \\$X"\n'
        'MULTI="first\n'
        'second"\n'
        "EMPTY=\n"
        "HASH=a#b\n"
        "SPACES =  padded  \n",
    )
    assert read_secrets_file(path) == {
        "PLAIN": "abc def",
        "EXPORTED": "yes",
        "SINGLE": "$HOME \\n #not a comment",
        "DOUBLE": 'line1\nline2 "q" \\ $X',
        "MULTI": "first\nsecond",
        "EMPTY": "",
        "HASH": "a#b",
        "SPACES": "padded",
    }


def test_a_leading_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_bytes(b"\xef\xbb\xbfFIRST=one\r\nSECOND='two'\r\n")
    assert read_secrets_file(path) == {"FIRST": "one", "SECOND": "two"}


def test_a_byte_order_mark_elsewhere_is_text() -> None:
    assert parse_secrets("A='\ufeffx'\n", "s.env") == {"A": "\ufeffx"}
    with pytest.raises(SecretsError, match=r"s\.env:2: expected NAME=value"):
        parse_secrets("A=1\n\ufeffB=2\n", "s.env")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOT A LINE\n", "secrets.env:1: expected NAME=value"),
        ("OK=1\n1BAD=x\n", "secrets.env:2: expected NAME=value"),
        ("K='open\n", "secrets.env:1: K: unterminated single quote"),
        ('K="open\nstill open\n', "secrets.env:1: K: unterminated double quote"),
        ("K='v' junk\n", "secrets.env:1: K: unexpected text after the quoted value"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SecretsError) as info:
        read_secrets_file(write(tmp_path, text))
    assert str(info.value).endswith(message)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="cannot read the secrets file"):
        read_secrets_file(tmp_path / "missing.env")
    (tmp_path / "latin1.env").write_bytes(b"K=\xe9\n")
    with pytest.raises(SecretsError, match=r"latin1\.env: cannot read the secrets file"):
        read_secrets_file(tmp_path / "latin1.env")


def test_the_writer_quotes_singly_unless_it_cannot() -> None:
    assert secret_line("K", "a $b #c") == "K='a $b #c'\n"
    assert secret_line("K", "it's\n$5") == 'K="it\'s\\n\\$5"\n'
    assert secrets_text({"B": "2", "A": "1"}) == "A='1'\nB='2'\n"


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]*", fullmatch=True)
# any text a file can hold (surrogates cannot be written as UTF-8)
values = st.text(st.characters(blacklist_categories=("Cs",)))


@given(names, values)
def test_what_the_writer_writes_the_reader_reads_back(name: str, value: str) -> None:
    assert parse_secrets(secret_line(name, value), "s.env") == {name: value}


@given(st.dictionaries(names, values))
def test_a_whole_file_reads_back(secrets: dict[str, str]) -> None:
    assert parse_secrets(secrets_text(secrets), "s.env") == secrets
