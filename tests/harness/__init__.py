"""Test harnesses shared by test modules: virtual-time clusters and fake networks."""
