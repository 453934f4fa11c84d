"""Reusable test parts: process reaping, loopback ports, network-namespace labs.

Importable by any test (``from tests.support.netns import NetnsLab``) and by the
fault-injection harness. Nothing here is shipped with the product.
"""
