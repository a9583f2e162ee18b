"""A Beaker backend keeping each namespace in a process-wide dict, with no creation lock of
its own (``null_synchronizer``): dogpile protection is the cache's business."""

import threading

from beaker.container import Container, NamespaceManager
from beaker.exceptions import MissingCacheParameter
from beaker.synchronization import null_synchronizer
from beaker.util import verify_directory

STORAGE = {}  # namespace -> {key: value}
CALLS = {"set_value": 0}
_mutex = threading.Lock()


class DictNamespaceManager(NamespaceManager):
    """Options: ``required_option`` must be given (to show option passing);
    ``data_dir``, if given, is created as Beaker backends do."""

    def __init__(self, namespace, required_option=None, data_dir=None, **kwargs):
        NamespaceManager.__init__(self, namespace)
        if required_option is None:
            raise MissingCacheParameter("required_option is required")
        if data_dir:
            verify_directory(data_dir)
        self.required_option = required_option
        with _mutex:
            self.dictionary = STORAGE.setdefault(namespace, {})

    def get_creation_lock(self, key):
        return null_synchronizer()

    def __getitem__(self, key):
        return self.dictionary[key]

    def __contains__(self, key):
        return key in self.dictionary

    def __setitem__(self, key, value):
        self.dictionary[key] = value

    def set_value(self, key, value, expiretime=None):
        CALLS["set_value"] += 1
        self.dictionary[key] = value

    def __delitem__(self, key):
        del self.dictionary[key]

    def do_remove(self):
        self.dictionary.clear()

    def keys(self):
        return list(self.dictionary.keys())


class DictContainer(Container):
    namespace_class = DictNamespaceManager
