"""Datasets, label handling, augmentation and the synthetic word-image generator."""

from __future__ import annotations
