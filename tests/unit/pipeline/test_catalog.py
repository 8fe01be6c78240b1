"""The provider catalog: bundled templates match AVR-PLATFORM.md, a user's folder (--catalog
or the settings' `catalog:`) extends and overrides them, and `validate`/`render` use them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Avrgen

from avrgen.app.project import Paths, Project
from avrgen.errors import AvrgenError, BlueprintError, TemplateError
from avrgen.fs.package import BUNDLED_CATALOG
from avrgen.model.catalog import TOOLS_MOUNTS
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.checks import check_compose
from avrgen.pipeline.load import parse_documents
from avrgen.pipeline.plan import plan
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.validate import validate

# AVR-PLATFORM.md "Provider images" and each image's public source (the template's `source`):
# template -> (type, required env, port, tag); tag None: no public source shows one.
PLATFORM = {
    "sts-openai": ("STS", {"OPENAI_API_KEY"}, 6030, "1.11.0"),
    "sts-elevenlabs": ("STS", set(), 6035, "1.3.0"),
    "sts-gemini": ("STS", set(), 6037, "1.5.0"),
    "sts-deepgram": ("STS", {"DEEPGRAM_API_KEY", "AGENT_PROMPT"}, 6033, "1.2.0"),
    "sts-ultravox": ("STS", {"ULTRAVOX_API_KEY"}, 6031, "1.4.0"),
    "sts-xai": ("STS", {"XAI_API_KEY"}, 6041, "1.1.0"),
    "sts-speechmatics": ("STS", {"SPEECHMATICS_API_KEY"}, 6040, "1.2.1"),
    "asr-deepgram": ("ASR", {"DEEPGRAM_API_KEY"}, 6010, None),
    "asr-google-cloud-speech": ("ASR", {"GOOGLE_APPLICATION_CREDENTIALS"}, 6001, "1.0.1"),
    "asr-soniox": ("ASR", {"SONIOX_API_KEY"}, 6018, "1.0.2"),
    "asr-vosk": ("ASR", set(), 6010, "1.0.0"),
    "asr-gemini": ("ASR", {"GEMINI_API_KEY"}, 6021, "1.0.0"),
    "llm-openai": ("LLM", {"OPENAI_API_KEY"}, 6002, "1.1.0"),
    "llm-anthropic": ("LLM", {"ANTHROPIC_API_KEY"}, 6014, "1.1.0"),
    "llm-openrouter": ("LLM", {"OPENROUTER_API_KEY"}, 6009, "1.1.0"),
    "llm-n8n": ("LLM", {"PUBLIC_CHAT_URL"}, 6016, "1.0.0"),
    "llm-typebot": ("LLM", {"TYPEBOT_PUBLIC_ID"}, 6005, "1.0.1"),
    "llm-gemini": ("LLM", {"GEMINI_API_KEY"}, 6052, "1.0.2"),
    "llm-sarvam": ("LLM", {"SARVAM_API_KEY"}, 6051, "1.0.1"),
    "tts-deepgram": ("TTS", {"DEEPGRAM_API_KEY"}, 6011, "1.0.1"),
    "tts-elevenlabs": ("TTS", {"ELEVENLABS_API_KEY", "ELEVENLABS_VOICE_ID"}, 6007, "1.2.0"),
    "tts-google-cloud-tts": ("TTS", {"GOOGLE_APPLICATION_CREDENTIALS"}, 6003, "1.0.3"),
    "tts-soniox": ("TTS", {"SONIOX_API_KEY"}, 6011, "1.0.3"),
    "tts-kokoro": ("TTS", set(), 6012, "1.0.2"),
    "tts-coquitts": ("TTS", set(), 6032, "1.1.0"),
    "tts-cartesia": ("TTS", {"CARTESIA_API_KEY", "CARTESIA_VOICE_ID"}, 6009, None),
}
IMAGES = {"asr-gemini": "agentvoiceresponse/avr-stt-gemini"}  # named otherwise than avr-<name>
# AVR-PLATFORM.md "Catalog facts": the conditional needs, each alternative a set of keys
NEEDS = {
    "sts-elevenlabs": [{"ELEVENLABS_AGENT_ID"}, {"ELEVENLABS_AGENT_URL"}],
    "sts-gemini": [
        {"GEMINI_API_KEY"},
        {"GOOGLE_API_KEY"},
        {"GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"},
        {"GEMINI_USE_VERTEXAI", "GEMINI_VERTEX_PROJECT", "GEMINI_VERTEX_LOCATION"},
    ],
    "sts-ultravox": [{"ULTRAVOX_AGENT_ID"}],
}
PATHS = {"ASR": "/speech-to-text-stream", "LLM": "/prompt-stream", "TTS": "/text-to-speech-stream"}


def docs(text: str, file: str = "blueprints/x.yaml") -> list:
    return parse_documents(text, file)


PROVIDER = """\
kind: provider
name: P
type: STS
template: sts-openai
config:
  env:
    OPENAI_API_KEY: {secret: OPENAI_API_KEY}
"""
AGENT = """\
kind: agent
name: a
mode: sts
providers: {sts: P}
"""


def test_bundled_catalog_is_the_platform_table() -> None:
    catalog = load_catalog()
    assert set(catalog) == set(PLATFORM)
    for name, (kind, required, port, tag) in PLATFORM.items():
        t = catalog[name]
        assert t.type == kind
        assert set(t.required) == required, name
        assert t.port == port
        assert t.image == IMAGES.get(name, f"agentvoiceresponse/avr-{name}")
        assert t.tag == tag, name  # a sourced tag, or none: never a guess
        assert t.image_ref == (f"{t.image}:{tag}" if tag else t.image)
        assert t.source is not None and t.source.repository == t.image, name
        assert t.source.version == tag, name  # the tag is the version its source shows
        assert t.platform == "linux/amd64"  # every AVR image is built for amd64 only
        assert [set(keys) for need in t.needs for keys in need.any_of] == NEEDS.get(name, [])
        assert t.url_path == PATHS.get(kind, "")
        assert t.takes_ami == (kind in {"STS", "LLM"})
        # every key that looks secret is declared a secret
        for key in t.known_keys:
            if key.endswith("_API_KEY"):
                assert key in t.secrets, (name, key)
        if tag is None:  # the description says what to do instead
            assert "no public source shows a version tag" in t.description.lower()
    assert catalog["sts-ultravox"].needs[0].unless == {"ULTRAVOX_CALL_TYPE": "generic"}
    assert catalog["sts-elevenlabs"].tools  # 1.3.0 has tools


def test_bundled_template_must_name_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_template(tmp_path, "sts-mine")
    load_catalog([tmp_path])  # a user's template may leave it out
    monkeypatch.setattr("avrgen.pipeline.catalog.BUNDLED_CATALOG", tmp_path)
    with pytest.raises(AvrgenError, match="a bundled template must name its `source`"):
        load_catalog()


def test_seed_template_fields_are_known_keys() -> None:
    """The seed lists the dashboard's template fields; each is a key of our template."""
    catalog = load_catalog()
    seed = {
        "sts-openai": ["OPENAI_API_KEY", "OPENAI_MODEL", "OPENAI_VOICE", "OPENAI_LANGUAGE"],
        "sts-elevenlabs": ["ELEVENLABS_AGENT_ID", "ELEVENLABS_API_KEY"],
        "sts-gemini": ["GEMINI_API_KEY", "GEMINI_MODEL", "GEMINI_INSTRUCTIONS"],
        "sts-deepgram": ["DEEPGRAM_API_KEY", "AGENT_PROMPT"],
    }
    for name, keys in seed.items():
        assert set(keys) <= catalog[name].known_keys


def write_template(folder: Path, name: str, **fields: object) -> None:
    data = {"name": name, "title": name, "type": "STS", "image": "me/img", "tag": "2.0"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump({**data, **fields}))


def test_user_folder_overrides_and_extends(tmp_path: Path) -> None:
    own = tmp_path / "own"
    write_template(own, "sts-openai", required=["MY_KEY"], secrets=["MY_KEY"])
    write_template(own, "sts-mine", optional={"X": "1"}, ami=False, path="/ws")
    catalog = load_catalog([own])
    assert catalog["sts-openai"].image_ref == "me/img:2.0"
    assert catalog["sts-openai"].required == ("MY_KEY",)
    assert catalog["sts-mine"].url_path == "/ws" and not catalog["sts-mine"].takes_ami
    assert "sts-gemini" in catalog


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"required": ["A"], "optional": {"A": ""}}, "both required and optional: A"),
        ({"secrets": ["NOPE"]}, "secrets names keys that are neither"),
        ({"help": {"NOPE": "x"}}, "help names keys that are neither"),
        ({"imgae": "x"}, "imgae"),
        ({"type": "XYZ"}, "type"),
        ({"needs": [{"any_of": [["NOPE"]]}]}, "needs names keys that are neither"),
        ({"source": {"version": "1.0"}}, "a source names a repository or a document"),
        ({"platform": "amd64"}, "platform"),
    ],
)
def test_invalid_template_names_its_file(tmp_path: Path, fields: dict, message: str) -> None:
    write_template(tmp_path, "bad", **fields)
    with pytest.raises(AvrgenError) as info:
        load_catalog([tmp_path])
    assert str(tmp_path / "bad.yaml") in str(info.value)
    assert message in str(info.value)


def test_template_name_must_match_file(tmp_path: Path) -> None:
    write_template(tmp_path, "one")
    (tmp_path / "one.yaml").rename(tmp_path / "two.yaml")
    with pytest.raises(AvrgenError, match="must match the file name"):
        load_catalog([tmp_path])


def test_missing_catalog_folder(tmp_path: Path) -> None:
    with pytest.raises(AvrgenError, match="catalog folder not found"):
        load_catalog([tmp_path / "nope"])


def test_template_gives_image_path_and_ami() -> None:
    catalog = load_catalog()
    result = validate(docs(PROVIDER + "---\n" + AGENT), catalog)
    assert result.warnings == []
    the_plan = plan(result.blueprint, {}, catalog, "test-set")
    sts, core = the_plan.agents["a"].containers
    assert sts.image == "agentvoiceresponse/avr-sts-openai:1.11.0"
    assert sts.platform == "linux/amd64" and core.platform is None
    assert dict(sts.env)["AMI_URL"] == "http://avr-ami:6006"
    assert dict(core.env)["STS_URL"] == f"ws://avr-sts-a:{sts.port}"
    # optional defaults are documentation, not injected
    assert "OPENAI_MODEL" not in dict(sts.env)


def test_validate_template_rules() -> None:
    text = PROVIDER.replace("OPENAI_API_KEY: {secret: OPENAI_API_KEY}", "OPENAI_VOCE: alloy")
    with pytest.raises(BlueprintError) as info:
        validate(docs(text), load_catalog())
    messages = [str(p) for p in info.value.problems]
    assert any("missing OPENAI_API_KEY, required by template 'sts-openai'" in m for m in messages)
    assert any(
        "warning: OPENAI_VOCE is not a key template 'sts-openai' knows "
        "(did you mean 'OPENAI_VOICE'?)" in m
        for m in messages
    )


def test_validate_warns_on_empty_required_value() -> None:
    text = PROVIDER.replace("template: sts-openai", "template: sts-deepgram").replace(
        "OPENAI_API_KEY: {secret: OPENAI_API_KEY}",
        'DEEPGRAM_API_KEY: {secret: DG}\n    AGENT_PROMPT: ""',
    )
    result = validate(docs(text), load_catalog())
    assert [p.message for p in result.warnings] == [
        "AGENT_PROMPT is empty; template 'sts-deepgram' needs a value"
    ]


def test_unknown_template_and_type_mismatch() -> None:
    catalog = load_catalog()
    with pytest.raises(BlueprintError, match=r"unknown template 'sts-opnai' \(did you mean"):
        validate(docs(PROVIDER.replace("sts-openai", "sts-opnai")), catalog)
    with pytest.raises(BlueprintError, match="template 'sts-openai' is for STS providers, not LLM"):
        validate(docs(PROVIDER.replace("type: STS", "type: LLM")), catalog)


def project_with(tmp_path: Path, settings: str, catalogs: tuple[Path, ...] = ()) -> Project:
    blueprints = tmp_path / "blueprints"
    blueprints.mkdir(exist_ok=True)
    (blueprints / "settings.yaml").write_text(settings)
    (blueprints / "all.yaml").write_text(
        PROVIDER.replace("template: sts-openai", "template: sts-mine") + "---\n" + AGENT
    )
    return Project(Paths(blueprints, tmp_path / "output", catalogs=catalogs))


def test_settings_catalog_folder(tmp_path: Path) -> None:
    write_template(tmp_path / "templates", "sts-mine", required=["OPENAI_API_KEY"])
    project = project_with(tmp_path, "kind: settings\ncatalog: ../templates\n")
    the_plan, _ = project.plan()
    assert the_plan.agents["a"].containers[0].image == "me/img:2.0"
    assert "sts-mine" in project.catalog and "sts-openai" in project.catalog
    # --catalog wins over the settings' folder
    write_template(tmp_path / "cli", "sts-mine", tag="3.0", required=["OPENAI_API_KEY"])
    project = project_with(tmp_path, "kind: settings\ncatalog: ../templates\n", (tmp_path / "cli",))
    assert project.plan()[0].agents["a"].containers[0].image == "me/img:3.0"


def test_settings_catalog_folder_missing(tmp_path: Path) -> None:
    project = project_with(tmp_path, "kind: settings\n\ncatalog: nowhere\n")
    with pytest.raises(BlueprintError) as info:
        project.validate()
    (problem,) = info.value.problems
    assert problem.file.endswith("settings.yaml") and problem.line == 3
    assert problem.path == "catalog" and "folder not found" in problem.message


def test_settings_catalog_folder_inside_blueprints(tmp_path: Path) -> None:
    write_template(tmp_path / "blueprints" / "templates", "sts-mine")
    project = project_with(tmp_path, "kind: settings\ncatalog: templates\n")
    with pytest.raises(BlueprintError, match="inside the blueprint folder"):
        project.validate()


def test_cli_templates_list_and_json(avrgen: Avrgen, tmp_path: Path) -> None:
    result = avrgen("templates", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "IMAGE", "REQUIRED"]
    assert len(lines) == 1 + len(PLATFORM)
    row = next(line for line in lines if line.startswith("tts-elevenlabs "))
    assert row.split()[1:] == [
        "TTS",
        "agentvoiceresponse/avr-tts-elevenlabs:1.2.0",
        "ELEVENLABS_API_KEY,",
        "ELEVENLABS_VOICE_ID",
    ]
    data = json.loads(avrgen("templates", "--json", cwd=tmp_path).stdout)
    assert [t["name"] for t in data] == sorted(PLATFORM)
    openai = next(t for t in data if t["name"] == "sts-openai")
    assert openai["tools_mounts"] == list(TOOLS_MOUNTS) and openai["ami"] is True
    assert openai["tag"] == "1.11.0" and openai["platform"] == "linux/amd64"
    assert openai["source"]["repository"] == "agentvoiceresponse/avr-sts-openai"
    assert openai["source"]["version"] == "1.11.0"
    ultravox = next(t for t in data if t["name"] == "sts-ultravox")
    assert ultravox["needs"] == [
        {"any_of": [["ULTRAVOX_AGENT_ID"]], "unless": {"ULTRAVOX_CALL_TYPE": "generic"}}
    ]
    deepgram = next(t for t in data if t["name"] == "asr-deepgram")
    assert deepgram["tag"] is None and deepgram["image"] == "agentvoiceresponse/avr-asr-deepgram"


def test_cli_templates_with_user_catalog(avrgen: Avrgen, tmp_path: Path) -> None:
    write_template(tmp_path / "own", "sts-mine", required=["K"])
    result = avrgen("templates", "--catalog", "own", cwd=tmp_path)
    assert "sts-mine" in result.stdout and "me/img:2.0" in result.stdout


def test_cli_templates_show(avrgen: Avrgen, tmp_path: Path) -> None:
    result = avrgen("templates", "show", "sts-deepgram", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "image:    agentvoiceresponse/avr-sts-deepgram:1.2.0" in out
    assert "platform: linux/amd64" in out
    assert "source:   agentvoiceresponse/avr-sts-deepgram 1.2.0;" in out
    assert "  DEEPGRAM_API_KEY (secret): Deepgram API key" in out
    assert '  DEEPGRAM_ASR_MODEL="nova-3"' in out
    assert "/usr/src/app/tools" in out
    untagged = avrgen("templates", "show", "asr-deepgram", cwd=tmp_path).stdout
    assert "image:    agentvoiceresponse/avr-asr-deepgram (no tag:" in untagged
    gemini = avrgen("templates", "show", "sts-gemini", cwd=tmp_path).stdout
    assert "needs:    GEMINI_API_KEY or GOOGLE_API_KEY or GOOGLE_GENAI_USE_VERTEXAI + " in gemini
    missing = avrgen("templates", "show", "sts-deepgrm", cwd=tmp_path)
    assert missing.exit_code == 1
    assert "no template named 'sts-deepgrm' (did you mean 'sts-deepgram'?)" in missing.stderr


def test_bundled_folder_ships_in_package() -> None:
    assert BUNDLED_CATALOG.is_dir() and len(list(BUNDLED_CATALOG.glob("*.yaml"))) == len(PLATFORM)


def provider_with(template: str, env: str, image: str = "") -> str:
    head = f"kind: provider\nname: P\ntype: STS\ntemplate: {template}\nconfig:\n"
    return head + (f"  image: {image}\n" if image else "") + f"  env: {env}\n"


@pytest.mark.parametrize(
    ("template", "env", "found"),
    [
        # a need met by a key left empty: a "fill in" warning, not an error
        ("sts-ultravox", '{ULTRAVOX_API_KEY: {secret: U}, ULTRAVOX_AGENT_ID: ""}', "is empty"),
        # a need met by a secret reference
        ("sts-gemini", "{GOOGLE_API_KEY: {secret: G}}", None),
        # `unless` compares the value: another call type still needs the agent id
        ("sts-ultravox", "{ULTRAVOX_API_KEY: {secret: U}, ULTRAVOX_CALL_TYPE: agent}", "missing"),
        # already a URL key: no rename suggested
        ("sts-openai", "{OPENAI_API_KEY: {secret: K}, OPENAI_URL_INSTRUCTIONS: http://x/p}", None),
        ("sts-openai", '{OPENAI_API_KEY: {secret: K}, OPENAI_LANGUAGE: ""}', "is empty, `auto`"),
        ("sts-openai", "{OPENAI_API_KEY: {secret: K}, OPENAI_LANGUAGE: NULL}", "is empty, `auto`"),
        ("sts-openai", "{OPENAI_API_KEY: {secret: K}, OPENAI_LANGUAGE: it}", None),
    ],
)
def test_template_env_rules(template: str, env: str, found: str | None) -> None:
    try:
        problems = validate(docs(provider_with(template, env)), load_catalog()).warnings
    except BlueprintError as exc:
        problems = exc.problems
    messages = [p.message for p in problems]
    if found is None:
        assert messages == []
    else:
        assert len(messages) == 1 and found in messages[0], messages


def test_core_env_keys() -> None:
    text = (
        PROVIDER + "---\n" + AGENT + "core:\n  env: {VAD_SPEECH_PAD_MS: '30', WEBHOOK_RETYR: '2'}\n"
    )
    settings = "kind: settings\ncore:\n  env: {PORT: '1', AMBIENT_NOISE_LEVEL: '0.1'}\n---\n"
    with pytest.raises(BlueprintError) as info:
        validate(docs(settings + text), load_catalog())
    found = [(p.path, p.severity, p.message) for p in info.value.problems]
    # a reserved key is the reserved rule's error only; VAD_* is a family avr-core reads
    assert found == [
        ("core.env.PORT", "error", "PORT is reserved: avrgen sets it"),
        (
            "core.env.WEBHOOK_RETYR",
            "warning",
            "WEBHOOK_RETYR is not a key avr-core reads (did you mean 'WEBHOOK_RETRY'?)",
        ),
    ]


def test_compose_check_rejects_a_dropped_platform() -> None:
    project = Project(Paths(REPO / "blueprints", Path("unused")))
    the_plan, _ = project.plan()
    agent = the_plan.agents["bookings"]
    text = Renderer().render(the_plan, {"bookings"})["bookings/docker-compose.yml"].decode()
    assert '    platform: "linux/amd64"\n' in text
    check_compose(agent, the_plan.network, text)
    broken = text.replace('    platform: "linux/amd64"\n', "", 1)
    with pytest.raises(TemplateError, match="platform differs"):
        check_compose(agent, the_plan.network, broken)
