"""An independent NumPy backprop: no SymPy, nothing from derive/."""
