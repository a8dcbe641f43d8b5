"""The packet core's side of the inventory: its JSON API and what its events do."""
