"""RADIUS for the packet core (docs/radius.md): the server (authentication and
accounting), the packets and their attribute mapping, the batch that decides
them through the network API's code, and the Disconnect-Request sender."""
