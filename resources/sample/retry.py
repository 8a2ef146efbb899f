"""Retrying flaky network calls with exponential backoff and jitter."""

import random
import time


def retry(call, attempts=5, base_delay=0.5, max_delay=30.0):
    """Run call() until it succeeds, waiting longer after each failure."""
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            delay = min(max_delay, base_delay * 2 ** attempt)
            time.sleep(random.uniform(0, delay))  # full jitter spreads the retries out
