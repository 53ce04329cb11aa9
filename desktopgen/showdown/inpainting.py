"""Claim 3: control and editing. Every family and sampler fills the same holes (bottom half, top
half, centre square) in the first n Fashion-MNIST test images, class *any* (guidance 0), so the
model must read the garment off the kept pixels; scored by label agreement of the project's
classifier with the true label and by the error inside the hole."""

from __future__ import annotations

from desktopgen.showdown import base, figures

ID = "inpainting"
TITLE = "3. Inpainting: bottom, top and centre holes"
CLAIM = 'Control and editing: "diffusion can edit any part; AR only sequentially".'
MEASURES = ("Label agreement (classifier on the filled image vs the true label) and mean squared "
            "error inside the hole, for bottom-half, top-half and centre-square holes, every "
            "sampler whose model is present (the inpainting-trained U-Net too, when shipped); "
            "all three holes in one batch per sampler, so seconds per image are shared.")
RULE = ("Per family, take its best agreement per hole. Sequential penalty: AR's top-half "
        "agreement is below its bottom-half agreement by more than 2 standard errors. Holds: the "
        "penalty shows and diffusion beats AR on the top half by more than 2 standard errors. "
        "Does not hold: AR beats diffusion on the top half by more than 2 standard errors, or "
        "AR's top and bottom agree to within 0.03 (no sequential penalty). Else mixed.")
NEEDS = ("models/fmnist-diffusion and models/fmnist-pixel-ar (fmnist-inpaint, token AR and MaskGIT "
         "join when shipped)")
MASKS = ("bottom-half", "top-half", "center-square")
INPAINT_MODEL = "fmnist-inpaint"


def _rows(settings):
    runnable, missing = base.runnable_samplers()
    if settings.one_sampler_per_model:
        seen, rows = set(), []
        for s in runnable:
            if s.default_model not in seen:
                seen.add(s.default_model)
                rows.append(s)
        return rows, missing
    return runnable, missing


def experiment(ctx: base.Context) -> dict:
    import numpy as np

    from desktopgen import metrics, sampling
    from desktopgen.sampling import masks

    n, dev, clf = ctx.settings.inpaint_n, ctx.device, ctx.classifier()
    test_x, test_y = ctx.test_set()
    x, y = test_x[:n], test_y[:n]
    specs, missing = _rows(ctx.settings)
    runs = [(s, None) for s in specs]
    if base.model_present(INPAINT_MODEL):
        diff = next((s for s in specs if s.model_kind == "diffusion-unet"), None)
        if diff is not None:
            runs.append((diff, INPAINT_MODEL))
    out = {"n": n, "masks": list(MASKS), "rows": [],
           "original_agreement": float((metrics.classify(clf, x, dev)[0] == y).mean()),
           "missing": [{"sampler": m.name, "model": m.default_model} for m in missing]}
    holes = np.stack([masks.preset(m) for m in MASKS])  # (3, 28, 28)
    every_mask = np.repeat(holes, n, axis=0)  # one batch: n images per hole, masks per sample
    sources = np.tile(x, (len(MASKS), 1, 1))
    for mask, name in zip(holes, MASKS):
        out["rows"].append({"mask": name, "method": "hole left black", "family": "none",
                            **_score(clf, x * (1 - mask), x, y, mask, dev)})
    for k, (spec, model_name) in enumerate(runs):
        label = f"{spec.name}" + (f" ({model_name})" if model_name else "")
        ctx.progress(k / len(runs), label)
        try:
            if model_name:
                model = ctx.cached(f"model:{model_name}",
                                   lambda m=model_name: sampling.load("diffusion", m, dev)[0])
            else:
                model = ctx.model(spec)[0]
            images, elapsed = _fill(model, spec, sources, every_mask, dev, ctx, k / len(runs),
                                    (k + 1) / len(runs), label)
        except base.Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - a sampler without inpainting, a model that fails
            out["rows"].append({"mask": "all", "method": label, "family": spec.family,
                                "error": str(e)[:200]})
            continue
        for j, (mask, name) in enumerate(zip(holes, MASKS)):
            filled = images[j * n : (j + 1) * n]
            row = {"mask": name, "method": label, "family": spec.family,
                   "seconds_per_image": elapsed / len(sources),
                   "kept_exact": bool((filled[:, mask == 0] == x[:, mask == 0]).all())}
            out["rows"].append(row | _score(clf, filled, x, y, mask, dev))
    return out


def _fill(model, spec, sources, holes, dev, ctx, lo, hi, label, most: int = 240):
    """Inpaint every source with its own mask, `most` per batch; (images, seconds)."""
    import numpy as np

    from desktopgen import sampling
    from desktopgen.core.requests import SampleRequest
    from desktopgen.sampling import masks

    out, elapsed, total = [], 0.0, len(sources)
    for start in range(0, total, most):
        end = min(start + most, total)
        req = SampleRequest(family=spec.family, sampler=spec.name, guidance=0.0, seed=0,
                            batch=end - start, first_index=start,
                            source=masks.as_grid(sources[start:end]), mask=masks.as_grid(holes[start:end]))
        a, b = lo + (hi - lo) * start / total, lo + (hi - lo) * end / total
        res = sampling.run_to_end(sampling.sample(model, req, dev, preview_every=0),
                                  ctx.on_step(a, b, text=label))
        out.append(res.images)
        elapsed += res.elapsed
    return np.concatenate(out), elapsed


def _score(clf, images, originals, labels, mask, dev) -> dict:
    from desktopgen import metrics

    m = mask.astype(bool)
    diff = (images.astype("float64") - originals.astype("float64")) / 255
    preds, _ = metrics.classify(clf, images, dev)
    return {"mse": float((diff[:, m] ** 2).mean()), "agreement": float((preds == labels).mean())}


def best(rows, family, mask):
    vals = [r["agreement"] for r in rows if r.get("family") == family and r["mask"] == mask
            and "agreement" in r]
    return max(vals) if vals else None


def verdict(numbers: dict) -> tuple[str, str]:
    rows, n = numbers.get("rows") or [], numbers.get("n", 0)
    b = {(f, m): best(rows, f, m) for f in ("diffusion", "ar") for m in MASKS}
    if any(v is None for v in b.values()):
        return base.needs("inpainting rows of both families (models/fmnist-diffusion, "
                          "models/fmnist-pixel-ar)")
    penalty = base.differs(b["ar", "top-half"], n, b["ar", "bottom-half"], n) < 0
    wins = {m: base.differs(b["diffusion", m], n, b["ar", m], n) for m in MASKS}
    text = ("label agreement diffusion/AR: " + ", ".join(
        f"{m} {b['diffusion', m]:.2f}/{b['ar', m]:.2f}" for m in MASKS)
        + f" (n={n}, originals {numbers.get('original_agreement', float('nan')):.2f}); AR "
        + ("is" if penalty else "is not measurably") + " worse on the top half than the bottom")
    if penalty and wins["top-half"] > 0:
        return base.HOLDS, text
    no_penalty = not penalty and base.precise(b["ar", "top-half"], n, b["ar", "bottom-half"], n)
    if wins["top-half"] < 0 or no_penalty:
        return base.NOT_HOLD, text
    return base.MIXED, text


def figure(numbers: dict):
    rows = [r for r in numbers.get("rows") or [] if "agreement" in r]
    if not rows:
        return None
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, (ax1, ax2) = figures.new(2)
    width = 0.8 / len(methods)
    for j, meth in enumerate(methods):
        fam = next(r["family"] for r in rows if r["method"] == meth)
        col = figures.COLORS["floor"] if fam == "none" else figures.color(fam)
        for ax, key in ((ax1, "agreement"), (ax2, "mse")):
            vals = [next((r[key] for r in rows if r["method"] == meth and r["mask"] == m), 0)
                    for m in MASKS]
            ax.bar([i + j * width for i in range(len(MASKS))], vals, width, color=col,
                   alpha=1.0 - 0.5 * (j % 2) if fam != "none" else 0.5, label=meth)
    for ax, label in ((ax1, "label agreement"), (ax2, "MSE in hole (lower is better)")):
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(MASKS))], MASKS, fontsize=8)
        ax.set_ylabel(label)
    ax1.axhline(numbers.get("original_agreement", 0), color="k", ls="--", lw=1, label="originals")
    ax1.legend(fontsize=6)
    figures.note(ax1, f"n={numbers.get('n')} test images per hole")
    return fig
