"""Untrusted model folders (issue 8, bug 7): every file is checked before a network is built,
bad folders are listed as unusable, and models are found from a non-editable install."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktopgen import nets
from desktopgen.core import checkpoints

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def model_copy(tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(checkpoints.models_dir() / "fmnist-classifier", dst)
    return dst


def _write_config(folder: Path, cfg, rehash: bool = True) -> None:
    """Replace config.json; with `rehash`, also record its hash in the card, as an attacker
    who controls the whole folder would."""
    (folder / "config.json").write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    if rehash:
        card = json.loads((folder / "card.json").read_text())
        card["config_sha256"] = checkpoints.sha256_file(folder / "config.json")
        (folder / "card.json").write_text(json.dumps(card))


def _refused(folder, match: str) -> str:
    with pytest.raises(checkpoints.CheckpointError, match=match) as e:
        checkpoints.load_model(str(folder))
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 300, msg  # one short sentence
    return msg


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if a real network is built."""
    def boom(config):
        raise AssertionError(f"a network was built from {config}")
    for arch, (_, cfg_cls) in list(nets.ARCHS.items()):
        monkeypatch.setitem(nets.ARCHS, arch, (boom, cfg_cls))


@pytest.mark.parametrize("config, match", [
    ({"n_layer": 100000}, "n_layer must be an integer from 1 to 48, not 100000"),
    ({"n_layer": 48, "n_embd": 1024}, r"would have \d+\.\dM parameters, over the 50M limit"),
    ({"n_layer": True}, "n_layer must be an integer"),
    ({"n_embd": 256.0}, "n_embd must be an integer"),
    ({"dropout": float("nan")}, "dropout must be a number"),
    ({"n_embd": 100, "n_head": 8}, "must divide by n_head"),
    ({"vocab": 100000}, "vocab must be 256"),
])
def test_an_out_of_bounds_config_is_refused_before_any_network_is_built(model_copy, no_build, config, match):
    _write_config(model_copy, {"arch": "pixel_ar", "config": config})
    _refused(model_copy, match)


@pytest.mark.parametrize("file", ["card.json", "config.json"])
@pytest.mark.parametrize("text", ["[1]", '"x"', "3", "null"])
def test_json_that_is_not_an_object_is_refused_in_one_line(model_copy, file, text):
    (model_copy / file).write_text(text)
    _refused(model_copy, f"{file} is not a JSON object")


def test_a_config_whose_config_is_not_an_object_is_refused(model_copy):
    _write_config(model_copy, {"arch": "classifier", "config": [1]})
    _refused(model_copy, "must be a JSON object, not list")


def test_unknown_config_keys_are_named_briefly(model_copy, no_build):
    _write_config(model_copy, {"arch": "classifier", "config": {f"key{i:03d}": i for i in range(500)}})
    _refused(model_copy, r"unknown classifier config keys: key000, key001, key002 \(and 497 more\)")


def test_a_changed_config_is_caught_by_the_card_hash(model_copy):
    cfg = json.loads((model_copy / "config.json").read_text())
    cfg["config"]["dropout"] = 0.2  # valid, same shapes: only the hash can tell
    _write_config(model_copy, cfg, rehash=False)
    _refused(model_copy, "config.json does not match its card")


def test_a_card_without_the_config_hash_is_refused(model_copy):
    card = json.loads((model_copy / "card.json").read_text())
    del card["config_sha256"]
    (model_copy / "card.json").write_text(json.dumps(card))
    _refused(model_copy, "records no config_sha256")


def test_weights_that_do_not_fit_the_config_are_refused_briefly(model_copy):
    """Was a 7.7 KB message listing every key; now the first mismatch, from the header alone."""
    _write_config(model_copy, {"arch": "classifier", "config": {"width": 32}})
    _refused(model_copy, r"does not fit config.json: body.0.0.weight is \[64, 1, 3, 3\] in the file, "
                         r"\[32, 1, 3, 3\] in the config")
    _write_config(model_copy, {"arch": "pixel_ar", "config": {}})
    _refused(model_copy, r"it lacks blocks.0.ln1.bias, .* \(and \d+ more\) and has unknown tensors")


def test_oversized_files_are_refused_before_they_are_read(model_copy):
    (model_copy / "card.json").write_text(" " * (2 << 20) + "{}")
    _refused(model_copy, r"card.json is 2,097,154 bytes, over the 1,048,576-byte limit")


def test_a_file_is_not_a_model_folder(model_copy):
    _refused(model_copy / "weights.safetensors", "is a file, not a model folder")
    _refused(model_copy / "nothing-here", "not found")


def test_scan_lists_bad_folders_as_unusable_and_never_raises(tmp_path, model_copy):
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(model_copy, root / "good")
    for name, file, text in [("card-list", "card.json", "[1]"), ("config-str", "config.json", '"x"'),
                             ("deep", "config.json", "[" * 100000)]:
        shutil.copytree(model_copy, root / name)
        (root / name / file).write_text(text)
    shutil.copytree(model_copy, root / "bomb")
    _write_config(root / "bomb", {"arch": "pixel_ar", "config": {"n_layer": 100000}})
    shutil.copytree(model_copy, root / "no-weights")
    (root / "no-weights" / "weights.safetensors").unlink()
    (root / "stray-file.txt").write_text("not a model")
    (root / ".hidden").mkdir()
    infos = {i.name: i for i in checkpoints.scan_models(root)}
    assert sorted(infos) == ["bomb", "card-list", "config-str", "deep", "good", "no-weights"]
    assert infos["good"] == checkpoints.ModelInfo("good", "classifier", "classifier", True, "",
                                                  str(root / "good"))
    assert not any(i.ok for n, i in infos.items() if n != "good")
    assert infos["card-list"].problem == "card.json is not a JSON object"
    assert infos["bomb"].kind == "pixel_ar" and infos["bomb"].family == "ar"
    assert "n_layer must be" in infos["bomb"].problem
    assert "weights.safetensors is missing" in infos["no-weights"].problem
    assert all("\n" not in i.problem and len(i.problem) < 250 for i in infos.values())
    assert checkpoints.scan_models(tmp_path / "no-such-root") == []


def test_scan_finds_the_shipped_models_usable():
    infos = {i.name: i for i in checkpoints.scan_models()}
    for family, name in checkpoints.DEFAULT_MODELS.items():
        assert infos[name].ok and infos[name].family == family, infos[name]


def _run(code: str, env: dict, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_models_are_found_from_a_non_editable_install(tmp_path, model_copy):
    """The package alone in site-packages (no models/ beside it), the models as data files under
    <prefix>/share/desktopgen/models; $DESKTOPGEN_MODELS still wins when set."""
    site = tmp_path / "lib" / "site-packages"
    shutil.copytree(REPO / "desktopgen", site / "desktopgen",
                    ignore=shutil.ignore_patterns("__pycache__"))
    prefix = tmp_path / "prefix"
    shutil.copytree(model_copy, prefix / "share" / "desktopgen" / "models" / "fmnist-classifier")
    env = {k: v for k, v in os.environ.items() if k not in ("DESKTOPGEN_MODELS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    code = (f"import sys; sys.prefix = {str(prefix)!r}\n"
            "from desktopgen.core import checkpoints\n"
            f"assert checkpoints.__file__.startswith({str(site)!r})\n"
            "print(checkpoints.models_dir())\n"
            "model, card = checkpoints.load_model('fmnist-classifier')\n"
            "print(card['name'])\n")
    r = _run(code, env, tmp_path)
    assert r.returncode == 0, r.stderr[-1500:]
    assert r.stdout.split() == [str(prefix / "share" / "desktopgen" / "models"), "fmnist-classifier"]
    own = tmp_path / "own"
    own.mkdir()
    r = _run(code, {**env, "DESKTOPGEN_MODELS": str(own)}, tmp_path)
    assert r.returncode != 0 and "fmnist-classifier': not found" in r.stderr


def test_importing_checkpoints_does_not_load_torch():
    """So the GUI can ask models_dir() and read cards before torch is imported."""
    r = subprocess.run([sys.executable, "-c", "import sys, desktopgen.core.checkpoints as c; c.models_dir();"
                        "print('torch' in sys.modules)"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr


@pytest.mark.parametrize("arch, config", [
    ("unet", {}), ("pixel_ar", {}), ("classifier", {}),
    ("unet", {"channels": 32, "mults": [1, 2], "blocks": 1, "attn_res": [14, 7]}),
    ("unet", {"mults": [1], "attn_res": [28]}), ("pixel_ar", {"n_layer": 2, "n_embd": 64, "n_head": 4}),
    ("classifier", {"width": 8, "feature_dim": 16}),
])
def test_parameter_count_from_the_config_equals_the_built_network(arch, config):
    checked = nets.check_config(arch, config)
    built = nets.build(arch, config)
    assert nets.parameter_count(arch, checked) == sum(p.numel() for p in built.parameters())


def test_sequence_length_reads_a_raster_models_steps_from_its_config(tmp_path):
    """What the GUI's steps box shows for a model-fixed sampler (pixel, tokens), read without
    building the network; 0 for other models, missing folders and unreadable configs."""
    tiny = {"n_layer": 1, "n_head": 2, "n_embd": 16}
    checkpoints.save_model(nets.build("pixel_ar", tiny), tmp_path / "px", {})
    checkpoints.save_model(nets.build("token_ar", {**tiny, "seq_len": 196}), tmp_path / "tok", {})
    checkpoints.save_model(nets.build("classifier", {}), tmp_path / "clf", {})
    assert checkpoints.sequence_length(str(tmp_path / "px")) == 784
    assert checkpoints.sequence_length(str(tmp_path / "tok")) == 196
    assert checkpoints.sequence_length(str(tmp_path / "clf")) == 0
    assert checkpoints.sequence_length(str(tmp_path / "none")) == 0
    (tmp_path / "tok" / "config.json").write_text('{"arch": "token_ar", "config": {"seq_len": "196"}}')
    assert checkpoints.sequence_length(str(tmp_path / "tok")) == 0
    assert checkpoints.sequence_length("fmnist-token-ar-14-6") == 196  # the shipped default token model
    assert checkpoints.sequence_length("fmnist-token-ar") == 49
