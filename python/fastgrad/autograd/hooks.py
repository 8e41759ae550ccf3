"""Handles returned by register_hook and friends."""


class RemovableHandle:
    """Call .remove() (or leave the `with` block) to unregister the hook."""

    def __init__(self, remove_fn):
        self._remove = remove_fn

    def remove(self):
        if self._remove is not None:
            self._remove()
            self._remove = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
