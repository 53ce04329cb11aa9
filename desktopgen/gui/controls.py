"""The control panel: what to make (prompt, seed, batch) and each side's model and sampler, turned
into SampleRequests; and back: a request (a dropped recipe) sets the controls, saying what it
could not restore. It talks by signals; it knows nothing of workers, canvases or plots.
"""

from __future__ import annotations

import math
import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktopgen.core import checkpoints, samplers
from desktopgen.core.requests import MAX_SEED, SampleRequest
from desktopgen.gui import options
from desktopgen.gui.seed_spin import SeedSpin
from desktopgen.gui.theme import COLORS, FAMILIES, NAMES

MAX_BATCH = 64  # the canvases show at most an 8 x 8 grid
MAX_FIRST = 10**7  # SampleRequest's limit on first_index


def finite(value, default: float) -> float:
    """`value` as a float if it is a finite number, else `default` (settings can hold anything)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


class ControlPanel(QScrollArea):
    """The left panel. `request_for(family)` reads it; `restore_request(req)` sets it. It scrolls
    when the window is shorter than the panel (a 1280 x 800 screen), instead of forcing the
    window taller than the screen."""

    generateRequested = Signal(object)  # tuple of families
    cancelRequested = Signal()
    viewChanged = Signal()  # diffusion: predicted clean image <-> noisy sample
    changed = Signal()  # any setting that the captions show

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("controlPanel")
        inner = QWidget()
        inner.setFixedWidth(296)
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedWidth(300 + self.verticalScrollBar().sizeHint().width())
        v = QVBoxLayout(inner)
        v.setContentsMargins(0, 0, 4, 0)
        v.addWidget(self._build_shared())
        self.model_combo, self.sampler_combo, self.steps_spin, self.guidance_spin = {}, {}, {}, {}
        self._defaults_seen: dict[str, tuple] = {}  # side -> (sampler, steps) its guidance follows
        self.side_generate, self.model_entries, self.model_kinds = {}, {}, {}
        for f in FAMILIES:
            v.addWidget(self._build_side(f))
        v.addStretch(1)

    # ===================================================================== construction
    def _build_shared(self) -> QGroupBox:
        shared = QGroupBox("What to make")
        form = QFormLayout(shared)
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("classCombo")
        self.class_combo.addItems(["any (one of each)"] + list(options.CLASSES[1:]))
        self.class_combo.setToolTip("The kind of clothing to draw (the 'prompt'). 'any' cycles "
                                    "through the ten Fashion-MNIST classes across the batch.")
        form.addRow("Prompt", self.class_combo)

        seed_row = QHBoxLayout()
        self.seed_spin = SeedSpin()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setToolTip("The random seed (0 to 2^63 - 1). The same seed and settings "
                                  "give the same images.")
        self.dice_button = QToolButton()
        self.dice_button.setObjectName("diceButton")
        self.dice_button.setText("Roll")
        self.dice_button.setToolTip("Pick a new random seed.")
        self.dice_button.clicked.connect(self.roll_seed)
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setObjectName("seedLock")
        self.seed_lock.setToolTip("Locked: every Generate uses this seed. Unlocked: each Generate "
                                  "picks a new one, so you see new images.")
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.dice_button)
        seed_row.addWidget(self.seed_lock)
        form.addRow("Seed", seed_row)

        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSpin")
        self.batch_spin.setRange(1, MAX_BATCH)
        self.batch_spin.setValue(4)
        self.batch_spin.setToolTip("How many images each side makes at once (shown as a grid).")
        self.first_spin = QSpinBox()
        self.first_spin.setObjectName("firstSampleSpin")
        self.first_spin.setRange(1, MAX_FIRST + 1)
        self.first_spin.setPrefix("from #")
        self.first_spin.setToolTip(
            "Number of the batch's first sample. Sample n depends only on the seed and n, so "
            "starting at #5 remakes samples 5, 6, ... of a bigger run (a recalled export sets it).")
        batch_row = QHBoxLayout()
        batch_row.addWidget(self.batch_spin, 1)
        batch_row.addWidget(self.first_spin, 1)
        form.addRow("Batch", batch_row)

        self.sequential_check = QCheckBox("One at a time (fair timing)")
        self.sequential_check.setObjectName("sequentialCheck")
        self.sequential_check.setToolTip(
            "Run diffusion first, then autoregression, so neither slows the other down. "
            "Off: both race at once and share the machine.")
        form.addRow(self.sequential_check)

        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Both sides make the same request at once (Ctrl+Enter).")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(34)
        self.generate_button.clicked.connect(lambda: self.generateRequested.emit(FAMILIES))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop both sides after their current step (Esc).")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setMinimumHeight(34)
        self.cancel_button.clicked.connect(self.cancelRequested)
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        form.addRow(buttons)
        return shared

    def _build_side(self, f: str) -> QGroupBox:
        box = QGroupBox(NAMES[f])
        box.setStyleSheet(f"QGroupBox {{ color: {COLORS[f]}; font-weight: bold; }}")
        form = QFormLayout(box)
        model = QComboBox()
        model.setObjectName(f"{f}ModelCombo")
        model.setToolTip("Which trained model to use (folders under models/).")
        self.model_combo[f] = model
        self.reload_models(f)
        form.addRow("Model", model)
        sampler = QComboBox()
        sampler.setObjectName(f"{f}SamplerCombo")
        for spec in samplers.samplers_for(f):  # the table's order: the family's default first
            sampler.addItem(f"{spec.label} — {spec.default_model}", spec.name)
        self.sampler_combo[f] = sampler
        self._grey_samplers(f)
        form.addRow("Sampler", sampler)
        steps = QSpinBox()
        steps.setObjectName(f"{f}StepsSpin")
        form.addRow("Steps", steps)
        guidance = QDoubleSpinBox()
        guidance.setObjectName(f"{f}GuidanceSpin")
        guidance.setSingleStep(0.25)
        guidance.setToolTip("Classifier-free guidance: how hard to push towards the prompt. "
                            "1 = none; higher = more typical, less varied images.")
        form.addRow("Guidance", guidance)
        self.steps_spin[f], self.guidance_spin[f] = steps, guidance
        if f == "diffusion":
            self.view_combo = QComboBox()
            self.view_combo.setObjectName("diffusionViewCombo")
            self.view_combo.addItem("predicted clean image", "clean")
            self.view_combo.addItem("current noisy sample", "noisy")
            self.view_combo.setToolTip("While it runs, show the model's guess of the final image, "
                                       "or the noisy sample it is actually refining.")
            self.view_combo.currentIndexChanged.connect(lambda _: self.viewChanged.emit())
            form.addRow("Show", self.view_combo)
        else:
            self.temperature_spin = QDoubleSpinBox()
            self.temperature_spin.setObjectName("arTemperatureSpin")
            self.temperature_spin.setSingleStep(0.05)
            self.temperature_spin.setToolTip("Randomness of each pixel: below 1 plays safe, above 1 "
                                             "takes more chances.")
            form.addRow("Temperature", self.temperature_spin)
            self.topk_spin = QSpinBox()
            self.topk_spin.setObjectName("arTopKSpin")
            self.topk_spin.setRange(0, 256)
            self.topk_spin.setSpecialValueText("off")
            self.topk_spin.setToolTip("Only pick among the k likeliest intensities for each pixel "
                                      "(off = all 256).")
            form.addRow("Top-k", self.topk_spin)
        self.apply_sampler(f, reset=True)
        sampler.currentIndexChanged.connect(lambda _, fam=f: self._sampler_chosen(fam))
        model.currentIndexChanged.connect(lambda _, fam=f: self._model_chosen(fam))
        gen = QPushButton(f"Generate {NAMES[f].lower()} only")
        gen.setObjectName(f"{f}GenerateButton")
        gen.setToolTip(f"Run only the {NAMES[f].lower()} side with these settings.")
        gen.clicked.connect(lambda _=False, fam=f: self.generateRequested.emit((fam,)))
        form.addRow(gen)
        self.side_generate[f] = gen
        for w in (model, sampler):
            w.currentIndexChanged.connect(lambda _: self.changed.emit())
        steps.valueChanged.connect(lambda _, fam=f: self._follow_default_guidance(fam))
        steps.valueChanged.connect(lambda _: self.changed.emit())
        return box

    def _follow_default_guidance(self, f: str) -> None:
        """A guidance still at the default of the sampler and step count seen last becomes the
        default of the current ones (few-step's depends on the steps; samplers differ); a value
        the user set stays."""
        spec, steps = self.sampler(f), self.steps_spin[f].value()
        prev = self._defaults_seen.get(f)
        g = self.guidance_spin.get(f)
        if prev is not None and g is not None and abs(g.value() - prev[0].default_guidance(prev[1])) < 1e-9:
            g.setValue(spec.default_guidance(steps))
        self._defaults_seen[f] = (spec, steps)

    def reload_models(self, f: str) -> None:
        """Fill the model list from models/: unusable folders are greyed, the reason as tooltip."""
        combo = self.model_combo[f]
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        entries = options.scan_models(f)
        self.model_entries[f] = {e.name: e for e in entries}
        self.model_kinds[f] = {e.name: checkpoints.model_kind(e.name) for e in entries if e.usable}
        for i, e in enumerate(entries):
            combo.addItem(e.name if e.usable else f"{e.name} (unusable)", e.name)
            if e.usable and e.summary:
                combo.setItemData(i, f"{e.name}: {e.summary}", Qt.ToolTipRole)
            if not e.usable:
                item = combo.model().item(i)
                item.setEnabled(False)
                item.setToolTip(f"{e.name} cannot be used: {e.reason}")
                item.setData(f"{e.name} cannot be used: {e.reason}", Qt.ToolTipRole)
        i = combo.findData(current)
        combo.setCurrentIndex(i if i >= 0 else 0)
        combo.blockSignals(False)
        if f in self.sampler_combo:
            self._grey_samplers(f)

    # ===================================================================== sampler <-> model
    def fits(self, f: str, spec: samplers.SamplerSpec, name: str) -> bool:
        """Whether model `name` can run sampler `spec` (a model of unknown kind: only the
        sampler's own default model)."""
        kind = self.model_kinds[f].get(name, "")
        return samplers.fits(spec, kind) if kind else name == spec.default_model

    def models_for(self, f: str, spec: samplers.SamplerSpec) -> list[str]:
        """The usable models that can run `spec`, its default model first."""
        names = [n for n, e in self.model_entries[f].items() if e.usable and self.fits(f, spec, n)]
        return sorted(names, key=lambda n: n != spec.default_model)

    def _grey_samplers(self, f: str) -> None:
        """Grey the samplers that no model in the models folder can run, the reason as tooltip."""
        combo = self.sampler_combo[f]
        for i in range(combo.count()):
            spec = samplers.get_sampler(combo.itemData(i))
            usable = bool(self.models_for(f, spec))  # e.g. few-step before fmnist-flow is trained
            combo.model().item(i).setEnabled(usable)
            tip = spec.help if usable else \
                f"Needs the model {spec.default_model}, which is not in the models folder."
            combo.setItemData(i, tip, Qt.ToolTipRole)

    def _sampler_chosen(self, f: str) -> None:
        """A sampler was chosen: the model stays if it can run it, else the sampler's own model
        (or another that can run it) takes its place."""
        spec = self.sampler(f)
        if not self.fits(f, spec, self.model_name(f)):
            fitting = self.models_for(f, spec)
            if fitting:
                self.model_combo[f].setCurrentIndex(self.model_combo[f].findData(fitting[0]))
        self.apply_sampler(f)

    def _model_chosen(self, f: str) -> None:
        """A model was chosen: the sampler stays if the model can run it, else the first
        sampler (in the table's order) that it can run is chosen."""
        name, combo = self.model_name(f), self.sampler_combo[f]
        if self.fits(f, self.sampler(f), name):
            self.apply_sampler(f)  # a model may fix another step count (a 7x7 or 14x14 token model)
            return
        for i in range(combo.count()):
            if combo.model().item(i).isEnabled() and \
                    self.fits(f, samplers.get_sampler(combo.itemData(i)), name):
                combo.setCurrentIndex(i)
                return

    def sampler(self, f: str) -> samplers.SamplerSpec:
        """The table's row for the chosen sampler."""
        return samplers.get_sampler(self.sampler_combo[f].currentData())

    def apply_sampler(self, f: str, reset: bool = False) -> None:
        """Take the chosen sampler's ranges from the table (and its defaults when `reset`);
        values the user set stay where the new ranges allow."""
        spec = self.sampler(f)
        self.sampler_combo[f].setToolTip(spec.help)
        steps, lo, hi = self.steps_spin[f], int(spec.steps_range.lo), int(spec.steps_range.hi)
        fixed = 0 if spec.steps else checkpoints.sequence_length(self.model_name(f))
        if fixed:  # the model fixes the count: its sequence length (pixel and token AR)
            lo = hi = fixed
        was_fixed = not steps.isEnabled()  # e.g. pixel AR's 784: no user's choice to keep
        steps.setRange(lo, hi)
        steps.setEnabled(lo != hi)
        steps.setToolTip(f"Fixed by the model: {hi} steps." if lo == hi else
                         f"Denoising steps ({lo} to {hi}): more steps, finer images, more time.")
        guidance = self.guidance_spin[f]
        guidance.setRange(spec.guidance_range.lo, spec.guidance_range.hi)
        if reset or was_fixed:
            steps.setValue(spec.steps or hi)
        if reset:
            guidance.setValue(spec.default_guidance(steps.value()))
        self._follow_default_guidance(f)
        if f == "ar":
            self.temperature_spin.setRange(spec.temperature_range.lo, spec.temperature_range.hi)
            unit = "pixel" if spec.model_kind == "pixel-ar" else "token"  # what one choice picks
            self.temperature_spin.setToolTip(f"Randomness of each {unit}: below 1 plays safe, above "
                                             "1 takes more chances.")
            self.topk_spin.setToolTip("Only pick among the k likeliest intensities for each pixel "
                                      "(off = all 256)." if unit == "pixel" else "Only pick among the "
                                      "k likeliest codes for each token (off = all of them).")
            if reset:
                self.temperature_spin.setValue(spec.temperature)
                self.topk_spin.setValue(spec.top_k)

    # ===================================================================== panel -> request
    def model_name(self, f: str) -> str:
        return self.model_combo[f].currentData() or self.model_combo[f].currentText()

    def request_for(self, family: str) -> SampleRequest:
        """The request the controls describe for one side (no inpainting)."""
        cls = self.class_combo.currentIndex() - 1
        kw = dict(family=family, model=self.model_name(family),
                  sampler=self.sampler_combo[family].currentData(),
                  guidance=float(self.guidance_spin[family].value()),
                  class_label=None if cls < 0 else cls, seed=int(self.seed_spin.value()),
                  batch=int(self.batch_spin.value()), first_index=int(self.first_spin.value()) - 1)
        if self.steps_spin[family].isEnabled():  # 0: fixed by the model (pixel AR: 784)
            kw["steps"] = int(self.steps_spin[family].value())
        if family == "ar":
            kw.update(temperature=float(self.temperature_spin.value()),
                      top_k=int(self.topk_spin.value()))
        return SampleRequest(**kw)

    def roll_seed(self) -> None:
        self.seed_spin.setValue(random.randint(0, MAX_SEED))

    def set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)

    # ===================================================================== request -> panel
    def restore_request(self, req: SampleRequest) -> list[str]:
        """Set the controls from a request (a dropped recipe); returns what could not be restored,
        one short phrase each (empty: restored exactly)."""
        f, problems = req.family, []
        if f not in FAMILIES:
            return [f"a {req.family!r} side (this window has diffusion and autoregressive)"]
        self.class_combo.setCurrentIndex(0 if req.class_label is None else req.class_label + 1)
        self.seed_spin.setValue(req.seed)
        self.seed_lock.setChecked(True)
        if 1 <= req.batch <= MAX_BATCH:
            self.batch_spin.setValue(req.batch)
        else:
            problems.append(f"batch {req.batch} (the window makes 1 to {MAX_BATCH})")
        self.first_spin.setValue(req.first_index + 1)
        entry = self.model_entries[f].get(req.model) if req.model else None
        if req.model and entry is None:
            problems.append(f"{NAMES[f].lower()} model {req.model!r} (not installed)")
        elif entry is not None and not entry.usable:
            problems.append(f"{NAMES[f].lower()} model {req.model!r} ({entry.reason})")
        elif req.model:
            self.model_combo[f].setCurrentIndex(self.model_combo[f].findData(req.model))
        if req.sampler:
            i = self.sampler_combo[f].findData(req.sampler)
            if i >= 0:
                self.sampler_combo[f].setCurrentIndex(i)
            else:
                problems.append(f"{NAMES[f].lower()} sampler {req.sampler!r} (unknown here)")
            if req.model and entry is not None and entry.usable and self.model_name(f) != req.model:
                problems.append(f"{NAMES[f].lower()} model {req.model!r} (it cannot run "
                                f"{req.sampler}: {self.model_name(f)} does)")
        if req.steps and self.steps_spin[f].isEnabled():
            self._restore_number(self.steps_spin[f], req.steps, "diffusion steps", problems)
        if req.guidance >= 0 or not math.isfinite(req.guidance):
            self._restore_number(self.guidance_spin[f], req.guidance,
                                 f"{NAMES[f].lower()} guidance", problems)
        if f == "ar":
            self._restore_number(self.temperature_spin, req.temperature, "temperature", problems)
            self._restore_number(self.topk_spin, req.top_k, "top-k", problems)
        return problems

    @staticmethod
    def _restore_number(spin, value, what: str, problems: list[str]) -> None:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        if not ok or not spin.minimum() <= value <= spin.maximum():
            problems.append(f"{what} {value} (allowed {spin.minimum():g} to {spin.maximum():g})")
            return
        spin.setValue(value)
        if spin.value() != value:  # a spin box holds a few decimals
            problems.append(f"{what} {value} (set to {spin.value():g})")

    # ===================================================================== settings
    def restore_settings(self, st) -> None:
        def get(key, default, kind):
            v = st.value(key, default)
            try:
                return kind(v) if kind is not bool else v in (True, "true", "1", 1)
            except (TypeError, ValueError, OverflowError):
                return default

        self.class_combo.setCurrentIndex(min(10, max(0, get("run/class", 0, int))))
        self.seed_spin.setValue(min(MAX_SEED, max(0, get("run/seed", 0, int))))
        self.seed_lock.setChecked(get("run/seed_locked", False, bool))
        self.batch_spin.setValue(min(MAX_BATCH, max(1, get("run/batch", 4, int))))
        self.first_spin.setValue(min(MAX_FIRST + 1, max(1, get("run/first_sample", 1, int))))
        self.sequential_check.setChecked(get("run/one_at_a_time", False, bool))
        for f in FAMILIES:
            i = self.model_combo[f].findData(get(f"{f}/model", "", str))
            if i >= 0 and self.model_entries[f][self.model_combo[f].itemData(i)].usable:
                self.model_combo[f].setCurrentIndex(i)
            i = self.sampler_combo[f].findData(get(f"{f}/sampler", "", str))
            if i >= 0:
                self.sampler_combo[f].setCurrentIndex(i)
            spec = self.sampler(f)
            if self.steps_spin[f].isEnabled():
                self.steps_spin[f].setValue(get(f"{f}/steps", spec.steps, int))
            self.guidance_spin[f].setValue(finite(st.value(f"{f}/guidance"),
                                                  spec.default_guidance(self.steps_spin[f].value())))
        spec = self.sampler("ar")
        self.temperature_spin.setValue(finite(st.value("ar/temperature"), spec.temperature))
        self.topk_spin.setValue(get("ar/top_k", spec.top_k, int))
        self.view_combo.setCurrentIndex(1 if get("diffusion/view", "clean", str) == "noisy" else 0)

    def save_settings(self, st) -> None:
        st.setValue("run/class", self.class_combo.currentIndex())
        st.setValue("run/seed", str(self.seed_spin.value()))  # a string: ini ints are 32-bit
        st.setValue("run/seed_locked", self.seed_lock.isChecked())
        st.setValue("run/batch", self.batch_spin.value())
        st.setValue("run/first_sample", self.first_spin.value())
        st.setValue("run/one_at_a_time", self.sequential_check.isChecked())
        for f in FAMILIES:
            st.setValue(f"{f}/model", self.model_name(f))
            st.setValue(f"{f}/sampler", self.sampler_combo[f].currentData())
            if self.steps_spin[f].isEnabled():
                st.setValue(f"{f}/steps", self.steps_spin[f].value())
            st.setValue(f"{f}/guidance", self.guidance_spin[f].value())
        st.setValue("ar/temperature", self.temperature_spin.value())
        st.setValue("ar/top_k", self.topk_spin.value())
        st.setValue("diffusion/view", self.view_combo.currentData())
