"""GraphQL for researchers (``/graphql``), on the same release service as REST."""
