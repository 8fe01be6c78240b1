"""The Asterisk config codec: what may be written where, and the reader of the syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avrgen.fs.asterisk import (
    DIALPLAN_SPECIAL,
    AsteriskSyntaxError,
    Option,
    UnsafeValueError,
    additions,
    config_problem,
    config_value,
    dialplan_arg,
    dialplan_problem,
    dialplan_step,
    extension,
    extension_problem,
    parse,
    section_name,
    section_problem,
)

# -- writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a\nb", "contains a newline"),
        ("a\rb", "contains a carriage return"),
        ("a\x00b", "contains a NUL byte"),
        ("a\x1bb", "contains a control character ('\\x1b')"),
        (" front", "has leading or trailing blanks (Asterisk strips them)"),
        ("trail\t", "contains a control character ('\\t')"),
        ("back ", "has leading or trailing blanks (Asterisk strips them)"),
    ],
)
def test_unwritable_config_values_are_refused_naming_why(value: str, problem: str) -> None:
    assert config_problem(value) == problem
    with pytest.raises(UnsafeValueError) as caught:
        config_value(value)
    assert str(caught.value) == problem
    assert value.strip() not in str(caught.value)  # never the value: it may be a password


def test_semicolons_are_escaped_and_the_rest_kept() -> None:
    assert config_value("pa;ss\\word=#[x]") == "pa\\;ss\\word=#[x]"
    assert config_value("") == ""
    assert config_value(5060) == "5060"


@pytest.mark.parametrize("char", list(DIALPLAN_SPECIAL))
def test_every_dialplan_special_character_is_refused(char: str) -> None:
    problem = dialplan_problem(f"a{char}b")
    assert problem is not None and repr(char) in problem
    with pytest.raises(UnsafeValueError):
        dialplan_arg(f"a{char}b")


def test_dialplan_values_that_are_plain_pass_unchanged() -> None:
    assert dialplan_arg("avr-core-support:5011") == "avr-core-support:5011"
    assert dialplan_arg("+4930 123") == "+4930 123"
    assert dialplan_problem("a\nb") == "contains a newline"


@pytest.mark.parametrize("name", ["", "a]b", "a b", "a;b", "a(b", "a=b", "a\\b", 'a"b', "a\nb"])
def test_bad_section_names(name: str) -> None:
    assert section_problem(name) is not None
    with pytest.raises(UnsafeValueError):
        section_name(name)


def test_additions_group_by_section_in_order() -> None:
    text = additions(
        [
            ("1000-auth", "password", "s;cret"),
            ("avr", "secret", "x"),
            ("1000-auth", "username", "1000"),
        ]
    )
    assert text == "[1000-auth](+)\npassword = s\\;cret\nusername = 1000\n\n[avr](+)\nsecret = x\n"
    parsed = parse(text)
    assert [(s.name, s.additive) for s in parsed.sections] == [("1000-auth", True), ("avr", True)]
    assert parsed.section("1000-auth").get("password") == "s;cret"
    assert additions([]) == ""


def test_additions_refuse_an_unwritable_value() -> None:
    with pytest.raises(UnsafeValueError, match="newline"):
        additions([("a-auth", "password", "x\ny")])


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_any_writable_value_reads_back_exactly(value: str) -> None:
    if config_problem(value) is not None:
        return
    parsed = parse(f"[s]\noption = {config_value(value)}\n")
    assert parsed.section("s").get("option") == value


# -- reading ----------------------------------------------------------------------------------

SAMPLE = """\
; a comment
#include "my_other.conf"
[general]
enabled = yes ; trailing comment
[1000](webrtc-template)
type=endpoint
callerid = "Front desk" <1000>
[endpoint-template](!)
disallow=all
[tmpl-both](!, endpoint-template)
[1000-auth](+)
password = a\\;b
;-- a block
comment [not]=a section --; after = block
[demo]
exten => 5001,1,NoOp(Exten 5001)
 same => n,Hangup()
#tryinclude /etc/asterisk/avrgen-secrets/pjsip.conf
"""


def test_parse_sections_options_lines_and_includes() -> None:
    parsed = parse(SAMPLE)
    names = [s.name for s in parsed.sections]
    assert names == ["general", "1000", "endpoint-template", "tmpl-both", "1000-auth", "demo"]
    general = parsed.section("general")
    assert general.line == 3 and general.options == (Option("enabled", "yes", 4),)
    phone = parsed.section("1000")
    assert phone.templates == ("webrtc-template",) and not phone.template
    assert phone.get("callerid") == '"Front desk" <1000>'
    assert parsed.section("endpoint-template").template
    both = parsed.section("tmpl-both")
    assert both.template and both.templates == ("endpoint-template",)
    auth = parsed.section("1000-auth")
    assert auth.additive and auth.get("password") == "a;b"
    assert auth.options[-1] == Option("after", "block", 14)
    demo = parsed.section("demo")
    assert [(o.name, o.arrow, o.line) for o in demo.options] == [
        ("exten", True, 16),
        ("same", True, 17),
    ]
    assert [(i.path, i.line, i.optional) for i in parsed.includes] == [
        ("my_other.conf", 2, False),
        ("/etc/asterisk/avrgen-secrets/pjsip.conf", 18, True),
    ]
    assert parsed.include_after == (None, "demo")


def test_section_lookup_errors() -> None:
    parsed = parse("[a]\nx=1\nx=2\n[a]\n")
    assert len(parsed.named("a")) == 2
    with pytest.raises(KeyError):
        parsed.section("a")
    with pytest.raises(KeyError):
        parsed.section("missing")
    first = parsed.named("a")[0]
    assert first.values("x") == ["1", "2"]
    assert first.get("y") is None
    with pytest.raises(KeyError, match="2 times"):
        first.get("x")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("x = 1\n", 1, "option 'x' before any [section]"),
        ("[a]\njust words\n", 2, "expected `[section]`, `option = value` or `#include`"),
        ("[a]\n= value\n", 2, "expected `[section]`, `option = value` or `#include`"),
        ("[a\n", 1, "section header without its closing `]`"),
        ("[]\n", 1, "section name '' is empty"),
        ("[a b]\n", 1, "section name 'a b' contains ' ', which a section name cannot hold"),
        ("[a] junk\n", 1, "unexpected 'junk' after [a]"),
        ("[a](x y)\n", 1, "invalid template name 'x y' in [a]"),
        ("[a](+,t)\n", 1, "[a](+) adds to a section; it takes nothing else"),
        ("#exec /bin/sh\n", 1, "unknown directive '#exec'"),
        ('#include ""\n', 1, "#include without a path"),
        ("[a]\n;-- never closed\nx=1\n", 2, "block comment `;--` is never closed with `--;`"),
    ],
)
def test_bad_syntax_names_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(AsteriskSyntaxError) as caught:
        parse(text)
    assert caught.value.line == line
    assert str(caught.value) == f"line {line}: {message}"


def test_dialplan_steps() -> None:
    demo = parse(SAMPLE).section("demo")
    assert dialplan_step(demo.options[0]) == ("5001", "1", "NoOp", "Exten 5001")
    assert dialplan_step(demo.options[1]) == (None, "n", "Hangup", "")
    with pytest.raises(AsteriskSyntaxError, match="line 3: not a dialplan step"):
        dialplan_step(Option("same", "n", 3, True))
    with pytest.raises(AsteriskSyntaxError, match=r"line 4: expected Application\(arguments\)"):
        dialplan_step(Option("exten", "1,1,Answer", 4, True))


@pytest.mark.parametrize("value", ["5001", "+4930123", "_X.", "_0X!", "_8[1-3]X", "_[2-9]XX*#"])
def test_extensions(value: str) -> None:
    assert extension(value) == value


@pytest.mark.parametrize("value", ["", "50-01", "_X[1-", "_X,1", "abc", "_", "+", "5001\n"])
def test_bad_extensions(value: str) -> None:
    assert extension_problem(value) is not None
    with pytest.raises(UnsafeValueError, match="neither digits"):
        extension(value)
