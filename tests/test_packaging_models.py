"""A wheel carries every shipped model: pyproject's data-files name each folder under models/."""

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_model_folder_is_in_the_wheels_data_files():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "weights.safetensors").exists())
    listed = sorted(k.rsplit("/", 1)[1] for k in data)
    assert listed == shipped
    for name in shipped:
        files = data[f"share/desktopgen/models/{name}"]
        assert sorted(Path(f).name for f in files) == ["card.json", "config.json", "weights.safetensors"]
