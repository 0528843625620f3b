import gc
import weakref

from evalkit._util.gcpace import YOUNG, paced


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_paced_collects_rarely_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    with paced():
        assert gc.get_threshold()[0] == YOUNG
        with paced():  # nested: the outer one's settings hold until it ends
            assert gc.get_threshold()[0] == YOUNG
        assert gc.get_threshold()[0] == YOUNG and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cyclic_garbage_made_while_paced_is_still_freed() -> None:
    with paced():
        first = Node()
        alive = weakref.ref(first)
        del first
        for _ in range(YOUNG // 10 + 10):  # enough young containers for one collection
            Node(), Node(), Node(), Node(), Node(), Node(), Node(), Node(), Node(), Node()
        assert alive() is None
