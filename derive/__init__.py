"""Symbolic gradients: spec files, matrix-form chain rule, printers and code generation."""
