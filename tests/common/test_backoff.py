from datetime import timedelta

from common.backoff import retry_delay


def test_the_delay_doubles_after_each_failure_up_to_the_ceiling():
    delays = [retry_delay(n, first_seconds=60, last_seconds=300) for n in range(1, 5)]
    assert delays == [timedelta(seconds=s) for s in (60, 120, 240, 300)]
