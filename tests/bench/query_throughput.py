#!/usr/bin/python3
"""The Python side of query_throughput_bench: configurations per second
through Debian's python3-grpcio against a running photonicd, printed as one
JSON object on stdout. Prints nothing and exits 0 if the modules are missing.

    query_throughput.py ADDRESS CONFIGURATIONS BATCH
"""
import json
import queue
import sys
import time

try:
    import numpy as np

    from photonic.v1 import chip_pb2
    from photonicd import Chip
except ImportError as missing:
    print(f"query_throughput.py: skipped ({missing})", file=sys.stderr)
    sys.exit(0)


def main():
    address, configurations, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with Chip(address) as chip:
        info = chip.info()
        rng = np.random.default_rng(1)
        phases = rng.uniform(0.0, np.pi, size=(configurations, info.phase_count))
        amplitudes = rng.uniform(0.0, 1.0, size=(configurations, info.input_count))
        chip.sweep(phases_rad=phases[:1000], amplitudes=amplitudes[:1000], batch=batch)  # warm up

        start = time.perf_counter()
        swept = chip.sweep(phases_rad=phases, amplitudes=amplitudes, batch=batch)
        sweep_rate = configurations / (time.perf_counter() - start)
        assert swept.optical_power_mw.shape == (configurations, info.output_count)

        # One stream, one configuration per message, each answer awaited
        # before the next is sent: what a plain loop over a stream gets.
        lockstep_count = min(configurations, 5000)
        requests = [chip_pb2.QueryRequest(tag=i, phases_rad=phases[i].tolist(),
                                          amplitudes=amplitudes[i].tolist())
                    for i in range(lockstep_count)]
        outbox = queue.Queue()

        def send():
            while (request := outbox.get()) is not None:
                yield request

        answers = chip._chip.Query(send())
        start = time.perf_counter()
        for request in requests:
            outbox.put(request)
            next(answers)
        lockstep_rate = lockstep_count / (time.perf_counter() - start)
        outbox.put(None)
        list(answers)
    print(json.dumps({"lockstep": round(lockstep_rate), "sweep": round(sweep_rate)}))


if __name__ == "__main__":
    main()
