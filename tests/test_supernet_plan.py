"""The one-shot supernet's plan follows the space's own stride and width rules: it is one
point of the space (the largest widths, depths and strides), sampled by the same walk."""

from __future__ import annotations

import math
from types import SimpleNamespace

import optuna
import pytest

from archsearch.searchers.oneshot import SKIP, SupernetChooser, plan_supernet
from archsearch.space import list_spaces, load_space


class Recording(SupernetChooser):
    """The chooser, remembering what it chose (to replay it as a fixed trial)."""

    def __init__(self) -> None:
        super().__init__()
        self.params: dict[str, object] = {}

    def suggest_categorical(self, name, choices):
        self.params[name] = value = super().suggest_categorical(name, choices)
        return value

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.params[name] = value = super().suggest_int(name, low, high, step=step, log=log)
        return value

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.params[name] = value = super().suggest_float(name, low, high, step=step, log=log)
        return value


@pytest.mark.parametrize("size", [8, 28, 32, 224])
@pytest.mark.parametrize("name", list_spaces())
def test_plan_and_sampling_agree_on_strides_stem_and_widths(name: str, size: int) -> None:
    space = load_space(name)
    data = SimpleNamespace(input_size=(size, size), in_channels=3, num_classes=10)
    plan = plan_supernet(space, data)  # type: ignore[arg-type]

    chooser = Recording()
    space.sample_layout(chooser, size)
    arch = space.sample_architecture(optuna.trial.FixedTrial(chooser.params), size)
    shapes = {s.location: s for s in arch.infer_shapes(3, size)}
    assert plan.stem == arch.stem and plan.head == arch.head
    for index, stage in enumerate(arch.stages, start=1):
        positions = [p for p in plan.positions if p.stage == index]
        assert len(positions) == len(stage)  # the stage's largest depth
        for depth, (position, block) in enumerate(zip(positions, stage, strict=True), start=1):
            shape = shapes[f"stages.{index - 1}.{depth - 1}"]
            assert (position.out_channels, position.stride) == (block.out_channels, block.stride)
            assert (position.in_channels, *position.in_size) == shape.in_shape
            assert (position.ops[-1].block == SKIP) == (depth > 1)

    # the rules, by hand: each stage at its largest listed width (multiplier 1.0 where the
    # space lists it), and a listed stride 2 taken unless it would shrink the map below
    # min_feature_size (the stem at stride 2 from 64 pixels, its pool from 128)
    assert 1.0 in (space.width_multiplier.values() or [1.0])
    side = math.ceil(size / (2 if size >= 64 else 1))
    side = math.ceil(side / 2) if size >= 128 else side
    for index, spec in enumerate(space.stages, start=1):
        first = next(p for p in plan.positions if p.stage == index)
        assert first.out_channels == max(spec.out_channels.values())
        listed = max(spec.stride.values())
        expected = listed if math.ceil(side / listed) >= space.min_feature_size else 1
        assert first.stride == expected and first.in_size == (side, side)
        side = math.ceil(side / expected)
