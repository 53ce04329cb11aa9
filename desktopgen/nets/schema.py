"""What a network config may say, checked before any module is built.

A config comes from a model folder someone else made, or from `train --arch`: its keys, types and
ranges are checked here, and the parameter count is worked out from the numbers alone, so a
config that would take gigabytes is refused before a single tensor exists.
"""

from __future__ import annotations

import math
from dataclasses import fields

from desktopgen.nets.classifier import ClassifierConfig
from desktopgen.nets.inpaint_unet import InpaintUNetConfig
from desktopgen.nets.maskgit import MaskGITConfig
from desktopgen.nets.pixel_ar import PixelARConfig
from desktopgen.nets.shortcut import ShortcutUNetConfig
from desktopgen.nets.token_ar import TokenARConfig
from desktopgen.nets.tokenizer import TokenizerConfig
from desktopgen.nets.tokenizer import parameter_count as tokenizer_parameter_count
from desktopgen.nets.unet import UNetConfig
from desktopgen.nets.video_ar import VideoARConfig
from desktopgen.nets.video_unet import VideoUNetConfig
from desktopgen.nets.video_unet import parameter_count as video_unet_parameters

MAX_PARAMETERS = 50_000_000  # the shipped models have 0.6M to 7M

CONFIGS = {"unet": UNetConfig, "pixel_ar": PixelARConfig, "classifier": ClassifierConfig,
           "shortcut_unet": ShortcutUNetConfig, "inpaint_unet": InpaintUNetConfig,
           "tokenizer": TokenizerConfig, "token_ar": TokenARConfig}
CONFIGS["maskgit"] = MaskGITConfig
CONFIGS["video_ar"] = VideoARConfig
CONFIGS["video_unet"] = VideoUNetConfig
UNETS = ("unet", "shortcut_unet", "inpaint_unet")  # the U-Net and its issue-10 variants

# key: (kind, low, high); "fixed" keys are what the rest of the app assumes (10 classes, 28x28
# 8-bit images) and may only take their default value.
_INT, _FLOAT, _INTS, _FIXED = "int", "float", "ints", "fixed"
_CHOICE = "choice"  # (kind, allowed values)
_NAME = "name"  # a model folder name: letters, digits, . _ -, not starting with a dot
RULES = {
    "unet": {
        "channels": (_INT, 8, 512), "mults": (_INTS, 1, 8), "blocks": (_INT, 1, 8),
        "attn_res": (_INTS, 7, 28), "num_classes": (_FIXED,), "dropout": (_FLOAT, 0.0, 0.9),
        "image_size": (_FIXED,),
    },
    "pixel_ar": {
        "n_layer": (_INT, 1, 48), "n_head": (_INT, 1, 64), "n_embd": (_INT, 8, 2048),
        "dropout": (_FLOAT, 0.0, 0.9), "num_classes": (_FIXED,), "vocab": (_FIXED,),
        "seq_len": (_FIXED,),
    },
    "classifier": {
        "width": (_INT, 1, 512), "feature_dim": (_INT, 1, 4096), "num_classes": (_FIXED,),
        "dropout": (_FLOAT, 0.0, 0.9),
    },
}
RULES["tokenizer"] = {
    "quantizer": (_CHOICE, ("fsq", "vq")), "channels": (_INT, 8, 256), "blocks": (_INT, 0, 8),
    "down": (_CHOICE, (2, 4)), "levels": (_INTS, 2, 16, 6), "codebook_size": (_INT, 2, 16384),
    "code_dim": (_INT, 2, 64), "commitment": (_FLOAT, 0.0, 10.0), "ema_decay": (_FLOAT, 0.0, 0.9999),
    "dead_after": (_FLOAT, 0.0, 100.0), "decoder_channels": (_INT, 0, 256),
    "decoder_blocks": (_INT, -1, 8), "temporal_blocks": (_INT, 0, 8),
    "temporal_channels": (_INT, 8, 256),
}
RULES["token_ar"] = {**RULES["pixel_ar"], "vocab": (_INT, 2, 65536), "seq_len": (_INT, 1, 4096),
                     "tokenizer": (_NAME,)}
RULES["maskgit"] = {
    "n_layer": (_INT, 1, 24), "n_head": (_INT, 1, 32), "n_embd": (_INT, 8, 1024),
    "dropout": (_FLOAT, 0.0, 0.9), "num_classes": (_FIXED,), "codebook_size": (_INT, 2, 65536),
    "grid_h": (_INT, 1, 16), "grid_w": (_INT, 1, 16), "tokenizer": (_NAME,),
}
RULES["video_ar"] = {
    "n_layer": (_INT, 1, 48), "n_head": (_INT, 1, 64), "n_embd": (_INT, 8, 2048),
    "dropout": (_FLOAT, 0.0, 0.9), "num_classes": (_FIXED,), "vocab": (_INT, 2, 65536),
    "frames": (_INT, 1, 64), "grid": (_INT, 1, 16), "tokenizer": (_NAME,),
}
RULES["shortcut_unet"] = {**RULES["unet"], "min_log2_step": (_FIXED,)}
RULES["inpaint_unet"] = {**RULES["unet"], "cond_channels": (_FIXED,)}
RULES["video_unet"] = {
    "channels": (_INT, 8, 256), "mults": (_INTS, 1, 8), "blocks": (_INT, 1, 6),
    "temporal_res": (_INTS, 6, 48), "head_dim": (_INT, 8, 256), "num_classes": (_FIXED,),
    "dropout": (_FLOAT, 0.0, 0.9), "image_size": (_FIXED,), "cond_channels": (_FIXED,),
}


class ConfigError(ValueError):
    """A network config that is not an object, names unknown keys, or is out of bounds."""


def _names(keys, most: int = 3) -> str:
    keys = sorted(str(k)[:40] for k in keys)
    more = f" (and {len(keys) - most} more)" if len(keys) > most else ""
    return ", ".join(keys[:most]) + more


def _check_value(key: str, value, rule, default):
    kind = rule[0]
    if kind == _FIXED:
        if value != default or isinstance(value, bool):
            raise ConfigError(f"{key} must be {default}, not {str(value)[:40]}")
        return value
    if kind == _NAME:
        ok = isinstance(value, str) and 0 < len(value) <= 100 and not value.startswith(".") and all(
            ch.isascii() and (ch.isalnum() or ch in "._-") for ch in value)
        if not ok:
            raise ConfigError(f"{key} must be a model folder name (letters, digits, . _ -), "
                              f"not {str(value)[:40]!r}")
        return value
    if kind == _CHOICE:
        if value not in rule[1] or type(value) is not type(rule[1][0]):
            raise ConfigError(f"{key} must be one of {', '.join(map(str, rule[1]))}, "
                              f"not {str(value)[:40]}")
        return value
    lo, hi = rule[1], rule[2]
    if kind == _INTS:
        most = rule[3] if len(rule) > 3 else 4
        if not isinstance(value, (list, tuple)) or not 0 <= len(value) <= most or not all(
            type(v) is int and lo <= v <= hi for v in value
        ):
            raise ConfigError(f"{key} must be a list of at most {most} integers from {lo} to {hi}, "
                              f"not {str(value)[:40]}")
        return list(value)
    ok_types = (int,) if kind == _INT else (int, float)
    if type(value) not in ok_types or not lo <= value <= hi:  # NaN fails too
        what = "an integer" if kind == _INT else "a number"
        raise ConfigError(f"{key} must be {what} from {lo} to {hi}, not {str(value)[:40]}")
    return value


def check_config(arch, config) -> dict:
    """The config with defaults filled in, or ConfigError naming the first problem in one line."""
    if not isinstance(arch, str) or arch not in CONFIGS:
        raise ConfigError(f"unknown architecture {str(arch)[:40]!r}; known: {', '.join(CONFIGS)}")
    if not isinstance(config, dict):
        raise ConfigError(f"the {arch} config must be a JSON object, not {type(config).__name__}")
    rules = RULES[arch]
    unknown = [k for k in config if k not in rules]
    if unknown:
        raise ConfigError(f"unknown {arch} config key{'s' if len(unknown) > 1 else ''}: {_names(unknown)} "
                          f"(known: {', '.join(rules)})")
    defaults = {f.name: f.default for f in fields(CONFIGS[arch])}
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}
    for key, value in config.items():
        out[key] = _check_value(key, value, rules[key], defaults[key])
    _check_shapes(arch, out)
    n = parameter_count(arch, out)
    if n > MAX_PARAMETERS:
        raise ConfigError(f"the {arch} network would have {n / 1e6:.1f}M parameters, "
                          f"over the {MAX_PARAMETERS // 10**6}M limit")
    return out


def _check_shapes(arch: str, c: dict) -> None:
    """Constraints the modules would otherwise hit only when built or run."""
    if arch == "token_ar" and math.isqrt(c["seq_len"]) ** 2 != c["seq_len"]:
        raise ConfigError(f"seq_len must be a square (a grid of tokens), not {c['seq_len']}")
    if arch in ("pixel_ar", "token_ar", "maskgit", "video_ar") and c["n_embd"] % c["n_head"]:
        raise ConfigError(f"n_embd ({c['n_embd']}) must divide by n_head ({c['n_head']})")
    if arch == "tokenizer":
        if c["channels"] % 8:
            raise ConfigError(f"channels must divide by 8, not {c['channels']}")
        if c["decoder_channels"] % 8:
            raise ConfigError(f"decoder_channels must divide by 8, not {c['decoder_channels']}")
        if c["quantizer"] == "fsq" and not 1 <= len(c["levels"]) <= 6:
            raise ConfigError("levels must hold 1 to 6 integers (the FSQ grid)")
    if arch in UNETS:
        if not 1 <= len(c["mults"]) <= 3:
            raise ConfigError("mults must have 1 to 3 entries (28, 14 and 7 pixels)")
        widths = [c["channels"] * m for m in c["mults"]]
        if any(w % 32 for w in widths) or c["channels"] % 32:
            raise ConfigError("channels times each of mults must divide by 32 (group norm)")
        if any(r not in (28, 14, 7) for r in c["attn_res"]):
            raise ConfigError("attn_res may hold only 28, 14 and 7")
    if arch == "video_unet":
        if not 1 <= len(c["mults"]) <= 4:
            raise ConfigError("mults must have 1 to 4 entries (48, 24, 12 and 6 pixels)")
        widths = [c["channels"] * m for m in c["mults"]]
        if any(w % 8 or w % c["head_dim"] for w in widths):
            raise ConfigError("channels times each of mults must divide by 8 and by head_dim")
        if any(r not in (48, 24, 12, 6) for r in c["temporal_res"]):
            raise ConfigError("temporal_res may hold only 48, 24, 12 and 6")


def parameter_count(arch: str, c: dict) -> int:
    """Parameters of the network `nets.build(arch, c)` would make, from the numbers alone
    (checked against the built modules by tests/test_models.py)."""
    def lin(i, o, bias=True):
        return i * o + (o if bias else 0)

    def conv(i, o, k):
        return i * o * k * k + o

    if arch in ("pixel_ar", "token_ar"):
        e, L = c["n_embd"], c["n_layer"]
        block = 2 * 2 * e + lin(e, 3 * e) + lin(e, e) + lin(e, 4 * e) + lin(4 * e, e)
        emb = (c["num_classes"] + 1) * e + c["vocab"] * e + c["seq_len"] * e
        return emb + L * block + 2 * e + lin(e, c["vocab"], bias=False)
    if arch == "maskgit":
        e, L = c["n_embd"], c["n_layer"]
        block = 2 * 2 * e + lin(e, 3 * e) + lin(e, e) + lin(e, 4 * e) + lin(4 * e, e)
        emb = (c["num_classes"] + 1 + c["codebook_size"] + 1 + 1 + c["grid_h"] * c["grid_w"]) * e
        return emb + L * block + 2 * e + lin(e, c["codebook_size"])
    if arch == "video_ar":
        e, L = c["n_embd"], c["n_layer"]
        block = 2 * 2 * e + lin(e, 3 * e) + lin(e, e) + lin(e, 4 * e) + lin(4 * e, e)
        emb = (c["num_classes"] + 1 + c["vocab"] + c["frames"] + c["grid"] ** 2) * e
        return emb + L * block + 2 * e + lin(e, c["vocab"], bias=False)
    if arch == "tokenizer":
        return tokenizer_parameter_count(c)
    if arch == "video_unet":
        return video_unet_parameters(c)
    if arch == "classifier":
        w = c["width"]
        convs = [(1, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w)]
        body = sum(conv(i, o, 3) + 2 * o for i, o in convs) + lin(4 * w, c["feature_dim"])
        return body + lin(c["feature_dim"], c["num_classes"])
    ch0, emb = c["channels"], 4 * c["channels"]

    def res(i, o):
        skip = conv(i, o, 1) if i != o else 0
        return 2 * i + conv(i, o, 3) + lin(emb, 2 * o) + 2 * o + conv(o, o, 3) + skip

    def attn(ch):
        return 2 * ch + conv(ch, 3 * ch, 1) + conv(ch, ch, 1)

    n = lin(ch0, emb) + lin(emb, emb) + (c["num_classes"] + 1) * emb + conv(1, ch0, 3)
    chans, ch, r = [ch0], ch0, c["image_size"]
    for level, mult in enumerate(c["mults"]):
        for _ in range(c["blocks"]):
            n += res(ch, ch0 * mult) + (attn(ch0 * mult) if r in c["attn_res"] else 0)
            ch = ch0 * mult
            chans.append(ch)
        if level < len(c["mults"]) - 1:
            n += conv(ch, ch, 3)
            chans.append(ch)
            r //= 2
    n += 2 * res(ch, ch) + attn(ch)
    for level, mult in reversed(list(enumerate(c["mults"]))):
        for _ in range(c["blocks"] + 1):
            n += res(ch + chans.pop(), ch0 * mult) + (attn(ch0 * mult) if r in c["attn_res"] else 0)
            ch = ch0 * mult
        if level > 0:
            n += conv(ch, ch, 3)
            r *= 2
    n += 2 * ch + conv(ch, 1, 3)
    if arch == "shortcut_unet":  # the step-size MLP and the d = 0 vector
        n += lin(ch0, emb) + lin(emb, emb) + emb
    if arch == "inpaint_unet":  # the stem's extra input channels
        n += c["cond_channels"] * ch0 * 9
    return n
