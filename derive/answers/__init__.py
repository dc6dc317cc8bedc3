"""Checking hand-written gradients typed in LaTeX: reader, equivalence, diagnosis, sandbox."""
