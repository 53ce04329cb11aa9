"""Claim 9: future trends. Few-step samplers (the shortcut / flow model at 1, 2 and 4 steps, and
its flow samplers) against the default 20-step diffusion sampler, and MaskGIT (parallel token
decoding, a hybrid) against raster AR, on quality and time per image."""

from __future__ import annotations

from desktopgen.showdown import base, figures

ID = "trends"
TITLE = "9. Future trends: few-step, flow matching, MaskGIT"
CLAIM = ("Future trends: consistency models (1-step generation), flow matching (straighter "
         "paths), hybrids.")
MEASURES = ("Class accuracy, FD and seconds per image of the few-step model at 1, 2 and 4 steps "
            "and of every flow or MaskGIT sampler whose model is shipped, beside the default "
            "diffusion sampler (20 steps) and the default AR sampler.")
RULE = ("Take the best few-step row at 4 steps or fewer. Holds: its class accuracy is within 0.03 "
        "of the default diffusion sampler's and it is at least 3x faster per image. Does not hold: "
        "its accuracy is more than 0.10 below. Else mixed. MaskGIT is reported beside it.")
NEEDS = ("models/fmnist-flow (few-step and flow samplers, issue 10); models/fmnist-maskgit "
         "(MaskGIT, issue 9)")


def _is_trend(spec) -> bool:
    return spec.model_kind == "flow" or "maskgit" in spec.name or "maskgit" in spec.model_kind


def experiment(ctx: base.Context) -> dict:
    from desktopgen import engine, metrics
    from desktopgen.core import samplers as table
    from desktopgen.core.requests import SampleRequest

    runnable, missing = base.runnable_samplers()
    trend = [s for s in runnable if _is_trend(s)]
    out = {"n": ctx.settings.n, "rows": [],
           "missing": [{"sampler": m.name, "model": m.default_model} for m in missing if _is_trend(m)]}
    if not trend:
        return out
    jobs, done = [], {r["sampler"]: r for r in ctx.shared.get("quality_rows") or []}
    for fam in ("diffusion", "ar"):  # the references: each family's default sampler
        ref = table.default_sampler(fam)
        if ref.name in done:  # claim 1 measured it already: same n, seed and defaults
            r = done[ref.name]
            out["rows"].append({k: r[k] for k in ("n", "accuracy", "fd", "kid", "sampler", "family",
                                                  "steps", "seconds_per_image")}
                               | {"role": "reference", "kind": ref.model_kind})
        elif base.model_present(ref.default_model):
            jobs.append((ref, 0, "reference"))
    for s in trend:
        counts = [k for k in (1, 2, 4) if k in s.steps_range] if s.steps_range.hi <= 4 else [0]
        jobs += [(s, k, "trend") for k in counts]
    clf, feats, n = ctx.classifier(), ctx.test_features(), ctx.settings.n
    for i, (spec, steps, role) in enumerate(jobs):
        lo, hi = i / len(jobs), (i + 1) / len(jobs)
        ctx.progress(lo, f"{spec.name} {steps or spec.steps or ''} steps")
        try:
            model, card = ctx.model(spec)
            req = SampleRequest(family=spec.family, sampler=spec.name, steps=steps, seed=0,
                                model=card.get("name", ""))
            images, labels, info = engine.sample_images(req, n, min(n, 100), ctx.device, model=model,
                                                        on_event=ctx.on_step(lo, hi, text=spec.name))
        except base.Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - one sampler that fails leaves the others
            out.setdefault("failed", []).append({"sampler": spec.name, "steps": steps,
                                                 "error": str(e)[:200]})
            continue
        q = metrics.quality(clf, images, labels, feats, ctx.device)
        out["rows"].append(q | {"sampler": spec.name, "family": spec.family, "role": role,
                                "kind": spec.model_kind, "steps": info["request"].steps,
                                "seconds_per_image": info["elapsed"] / n})
    return out


def verdict(numbers: dict) -> tuple[str, str]:
    rows = numbers.get("rows") or []
    few = [r for r in rows if r["role"] == "trend" and r["kind"] == "flow" and r["steps"] <= 4]
    ref = next((r for r in rows if r["role"] == "reference" and r["family"] == "diffusion"), None)
    if not few or ref is None:
        by_model = {}
        for m in numbers.get("missing") or []:
            by_model.setdefault(m["model"], []).append(m["sampler"])
        return base.needs(", ".join(f"models/{k} (for {', '.join(v)})" for k, v in by_model.items())
                          or NEEDS)
    best = max(few, key=lambda r: r["accuracy"])
    speed = ref["seconds_per_image"] / max(best["seconds_per_image"], 1e-12)
    text = (f"{best['sampler']} at {best['steps']} steps: accuracy {best['accuracy']:.3f}, "
            f"{speed:.1f}x faster than {ref['sampler']} at {ref['steps']} steps ({ref['accuracy']:.3f})")
    mg = [r for r in rows if "maskgit" in r["sampler"] or "maskgit" in r["kind"]]
    if mg:
        text += f"; MaskGIT {mg[0]['accuracy']:.3f} at {mg[0]['steps']} steps"
    if best["accuracy"] >= ref["accuracy"] - 0.03 and speed >= 3:
        return base.HOLDS, text
    if best["accuracy"] < ref["accuracy"] - 0.10:
        return base.NOT_HOLD, text
    return base.MIXED, text


def figure(numbers: dict):
    rows = numbers.get("rows") or []
    if not rows:
        return None
    fig, (ax,) = figures.new(1)
    for r in rows:
        ax.scatter(r["seconds_per_image"], r["accuracy"], color=figures.color(r["family"]),
                   marker="o" if r["role"] == "reference" else "^")
        ax.annotate(f"{r['sampler']} {r['steps']}", (r["seconds_per_image"], r["accuracy"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per image (log)")
    ax.set_ylabel("class accuracy")
    return fig
