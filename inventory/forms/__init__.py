"""Forms of the operator screens: they parse and check input; rules live elsewhere."""
