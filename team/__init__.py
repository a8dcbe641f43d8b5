"""An account's team: invitations by e-mail, roles, removal (docs/team.md)."""
