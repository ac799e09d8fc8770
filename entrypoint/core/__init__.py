"""The lowest layer: the types every other module shares (model), bad input (errors), what a value
may hold (values), files written whole (files), the run dir's layout (paths). Imports nothing of
deepdocker's above it."""
