"""A Python client for photonicd, the photonic-chip daemon.

    from photonicd import Chip

    with Chip("unix:///run/photonicd.sock") as chip:
        print(chip.info().name)
        chip.set_inputs([1, 0, 0, 0, 0, 0, 0, 0])
        chip.set_phases([0.0] * chip.info().phase_count)
        currents = chip.read(averages=16).photocurrent_ua
        # many configurations in one pipelined stream: numpy rows in and out
        readings = chip.sweep(phases_rad=phase_rows, amplitudes=input_rows)
        for progress in chip.calibrate():
            print(progress.stage, progress.fraction)
        session = chip.train(widths=[8, 8], algorithm="sparse_zo", steps=300)
        # or fine-tune a deployed model: chip.train(from_model="mlp", steps=300)
        for status in session.progress():
            print(status.step, status.loss, status.test_accuracy)
        for p in chip.train_model("mlp", "my_model.textproto", epochs=5):
            print(p.epoch, p.test_accuracy)
        chip.deploy_model("mlp")
        print(list(chip.evaluate_model("mlp", test_limit=500))[-1].accuracy)

Calls raise the exceptions of photonicd.errors; messages are the daemon's.
Runs on Debian's python3-grpcio and python3-protobuf; the message stubs are
generated at build time (build/clients/python/gen on the PYTHONPATH).
"""

from photonicd.chip import Chip, Session, Sweep
from photonicd.errors import (AlreadyExists, Busy, InvalidArgument, LimitExceeded, NotFound,
                              PermissionDenied, PhotonicError, Unauthenticated, Unavailable)

__all__ = ["Chip", "Session", "Sweep", "PhotonicError", "InvalidArgument", "LimitExceeded", "NotFound",
           "AlreadyExists", "Busy", "Unavailable", "Unauthenticated", "PermissionDenied"]
