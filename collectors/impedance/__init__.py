"""Impedance instrument exports: parsers, the sweep type, writers and contract messages."""
