"""Views of the operator portal, one module per screen."""
