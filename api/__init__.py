"""The interfaces: the REST and GraphQL APIs, the admin page and the ``amaan`` CLI."""
