"""A small Fashion-MNIST CNN, trained by the project and used only for metrics."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class ClassifierConfig:
    width: int = 64
    feature_dim: int = 256  # penultimate features, used for FD and KID
    num_classes: int = 10
    dropout: float = 0.3


def _conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class Classifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = c = config
        w = c.width
        self.body = nn.Sequential(
            _conv(1, w), _conv(w, w), nn.MaxPool2d(2),  # 14
            _conv(w, 2 * w), _conv(2 * w, 2 * w), nn.MaxPool2d(2),  # 7
            _conv(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(4 * w, c.feature_dim), nn.ReLU(),
        )
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.feature_dim, c.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) in [-1, 1] -> (B, feature_dim)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))
