"""Tests of the wire (mesh/net): schema, keys, CURVE transport, mDNS discovery."""
