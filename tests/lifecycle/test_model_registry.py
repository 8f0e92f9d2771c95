"""The shared machines' model registry: by identity, with no key object for most models."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ucwa_flow.lifecycle.conversation import ConversationLifecycle
from ucwa_flow.lifecycle.machine import ModelRegistry


@dataclass
class _EqualLooking:
    href: str


def test_models_that_compare_equal_are_kept_apart() -> None:
    registry = ModelRegistry()
    first, second = _EqualLooking("x"), _EqualLooking("x")
    registry.append(first)
    assert second not in registry
    registry.append(second)
    assert len(registry) == 2
    assert list(registry) == [first, second]
    registry.remove(first)
    assert first not in registry
    assert second in registry
    with pytest.raises(ValueError, match="not registered"):
        registry.remove(first)


def test_a_runtime_model_is_its_own_key() -> None:
    # an id() key would be one more int object per model and machine (four a conversation)
    registry = ModelRegistry()
    model = ConversationLifecycle("/c1")
    registry.append(model)
    assert model in registry
    assert ConversationLifecycle("/c1") not in registry
    assert list(registry._models) == [model]
    registry.remove(model)
    assert len(registry) == 0
