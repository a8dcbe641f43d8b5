"""Project configuration: settings, root URLs, WSGI/ASGI and the database."""
