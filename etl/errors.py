class LoadRefused(Exception):
    """The whole file is refused; nothing was written to the warehouse."""
