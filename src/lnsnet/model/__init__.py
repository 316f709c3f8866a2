"""LNS-Net modules: FEM (embedder), SEL (seeds), CL (cluster), GRM (grm)."""

from .lnsnet import LNSNet, ModelConfig

__all__ = ["LNSNet", "ModelConfig"]
