"""The Python client end to end against the real daemon on the simulated
8x8 chip, and the examples producing their PNGs."""
import math
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemon import Daemon  # noqa: E402

import photonicd  # noqa: E402
from photonicd import Chip  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        cls.chip = Chip(cls.daemon.address)

    @classmethod
    def tearDownClass(cls):
        cls.chip.close()
        assert cls.daemon.stop() == 0

    def test_info_describes_the_chip(self):
        info = self.chip.info()
        self.assertEqual(info.name, "clements8")
        self.assertEqual(info.phase_count, 56)
        self.assertEqual(info.input_count, 8)

    def test_set_phases_then_read_moves_light(self):
        self.chip.set_inputs([1.0] + [0.0] * 7)
        self.chip.set_phases([0.0] * 56)
        bar = list(self.chip.read(averages=8).optical_power_mw)
        self.chip.set_phases([math.pi], indices=[0])
        moved = list(self.chip.read(averages=8).optical_power_mw)
        self.chip.set_phases([0.0] * 56)
        self.chip.set_inputs([0.0] * 8)
        self.assertEqual(len(bar), 8)
        self.assertGreater(sum(bar), 0.1)
        # Switching the first MZI from cross to bar moves power between
        # outputs by much more than the detector noise.
        self.assertGreater(sum(abs(a - b) for a, b in zip(bar, moved)), 0.1)

    def test_temperature_follows_the_tec_setpoint(self):
        start = self.chip.temperature()
        self.assertAlmostEqual(start.temperature_c, start.setpoint_c, delta=0.5)
        moved = self.chip.set_temperature_setpoint(start.setpoint_c + 1.5)
        self.assertEqual(moved.setpoint_c, start.setpoint_c + 1.5)
        self.assertAlmostEqual(moved.temperature_c, start.setpoint_c + 1.5, delta=0.5)
        with self.assertRaises(photonicd.InvalidArgument):
            self.chip.set_temperature_setpoint(start.setpoint_c + 100)
        self.chip.set_temperature_setpoint(start.setpoint_c)

    def test_sweep_reads_each_configuration_as_single_calls_do(self):
        import numpy as np

        rng = np.random.default_rng(5)
        configurations = 1200  # three messages of 512, 512 and 176
        phases = rng.uniform(0.0, math.pi, size=(configurations, 56))
        amplitudes = rng.uniform(0.0, 1.0, size=(configurations, 8))
        swept = self.chip.sweep(phases_rad=phases, amplitudes=amplitudes, averages=4)
        self.assertEqual(swept.optical_power_mw.shape, (configurations, 8))
        self.assertEqual(swept.photocurrent_ua.shape, (configurations, 8))
        for row in (0, 511, 512, 1199):  # message boundaries
            self.chip.set_phases(phases[row].tolist())
            self.chip.set_inputs(amplitudes[row].tolist())
            single = np.array(self.chip.read(averages=4).optical_power_mw)
            # Equal up to the detector noise (far below the 1 mW scale).
            np.testing.assert_allclose(swept.optical_power_mw[row], single, atol=2e-3)
        # The chip keeps the last configuration's phases.
        np.testing.assert_allclose(np.array(self.chip.phases().phases_rad)[:4], phases[-1][:4],
                                   atol=1e-3)
        bad = amplitudes[:10].copy()
        bad[7, 2] = 1.5
        with self.assertRaises(photonicd.InvalidArgument) as raised:
            self.chip.sweep(amplitudes=bad)
        self.assertIn("configuration 7", str(raised.exception))
        with self.assertRaises(ValueError):
            self.chip.sweep(phases_rad=phases[:3], amplitudes=amplitudes[:4])
        self.chip.set_phases([0.0] * 56)
        self.chip.set_inputs([0.0] * 8)

    def test_bad_requests_raise_typed_errors_naming_the_problem(self):
        with self.assertRaises(photonicd.InvalidArgument) as raised:
            self.chip.set_phases([0.0] * 55)
        self.assertIn("56", raised.exception.message)
        with self.assertRaises(photonicd.InvalidArgument):
            self.chip.set_phases([float("nan")], indices=[3])
        with self.assertRaises(photonicd.InvalidArgument):
            self.chip.set_inputs([2.0] + [0.0] * 7)
        with self.assertRaises(photonicd.NotFound) as raised:
            self.chip.session("s-no-such")
        self.assertIn("s-no-such", raised.exception.message)

    def test_power_budget_refuses_phases_over_it(self):
        full_budget = self.chip.info().limits.max_total_heater_power_mw
        self.chip.set_power_budget(1.0)
        try:
            with self.assertRaises(photonicd.LimitExceeded) as raised:
                self.chip.set_phases([math.pi] * 56)
            self.assertIn("budget", raised.exception.message)
        finally:
            self.chip.set_power_budget(full_budget)

    def test_calibrate_streams_progress_and_ends_with_the_result(self):
        fractions, last = [], None
        for progress in self.chip.calibrate(configurations=24, sweep_points=16, averages=4):
            fractions.append(progress.fraction)
            last = progress
        self.assertEqual(last.stage, "done")
        self.assertEqual(len(last.result.phase_bias_rad), 56)
        self.assertEqual(fractions, sorted(fractions))
        self.assertEqual(self.chip.calibration().chip_name, "clements8")

    def test_train_session_progress_iterates_to_the_end(self):
        session = self.chip.train([8, 8], algorithm="spsa", steps=60, dataset="synthetic",
                                  eval_every=20, train_samples=200, test_samples=50)
        statuses = list(session.progress())
        self.assertTrue(session.ended)
        self.assertEqual(statuses[-1].termination_reason, "max_steps")
        self.assertEqual(statuses[-1].step, 60)
        steps = [s.step for s in statuses]
        self.assertEqual(steps, sorted(steps))
        self.assertIn(session.id, [s.id for s in self.chip.sessions()])


class LeaseTest(unittest.TestCase):
    """Two clients contend for the heaters."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()

    @classmethod
    def tearDownClass(cls):
        assert cls.daemon.stop() == 0

    def test_the_lease_holder_writes_and_the_other_client_cannot(self):
        with Chip(self.daemon.address) as alice, Chip(self.daemon.address) as bob:
            with alice.lease("alice", ttl_s=30):
                holder = bob.lease_holder()
                self.assertTrue(holder.held)
                self.assertEqual(holder.holder, "alice")
                self.assertEqual(holder.lease_id, "")  # never shown to others
                alice.set_phases([0.25] * 56)
                with self.assertRaises(photonicd.LimitExceeded) as raised:
                    bob.set_phases([2.0] * 56)
                self.assertIn("alice", raised.exception.message)
                with self.assertRaises(photonicd.LimitExceeded):
                    bob.set_inputs([1.0] * 8)
                with self.assertRaises(photonicd.LimitExceeded):
                    with bob.lease("bob"):
                        pass
                # Reads still work for everyone; the refused writes changed nothing.
                self.assertEqual(list(bob.phases().phases_rad), [0.25] * 56)
                self.assertTrue(alice.renew_lease().held)
            self.assertFalse(bob.lease_holder().held)
            bob.set_phases([0.0] * 56)  # released: anyone may write again

    def test_an_open_query_stream_cannot_write_once_another_client_holds_the_lease(self):
        import queue

        import grpc
        from photonic.v1 import chip_pb2, chip_pb2_grpc

        requests = queue.Queue()
        channel = grpc.insecure_channel(self.daemon.address)
        stub = chip_pb2_grpc.ChipServiceStub(channel)
        replies = stub.Query(iter(requests.get, None))
        requests.put(chip_pb2.QueryRequest(tag=1, amplitudes=[0.5] * 8))
        self.assertEqual(next(replies).tag, 1)  # writes while nobody holds the lease
        with Chip(self.daemon.address) as alice, alice.lease("alice", ttl_s=30):
            requests.put(chip_pb2.QueryRequest(tag=2))  # a pure read still works
            self.assertEqual(next(replies).tag, 2)
            requests.put(chip_pb2.QueryRequest(tag=3, amplitudes=[1.0] * 8))
            with self.assertRaises(grpc.RpcError) as raised:
                next(replies)
            self.assertEqual(raised.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("alice", raised.exception.details())
            self.assertTrue(alice.read().photocurrent_ua)  # reads go on
        requests.put(None)
        channel.close()

    def test_photonctl_lease_commands(self):
        def photonctl(*args, lease=None):
            env = dict(os.environ, PHOTONICD_ADDRESS=self.daemon.address)
            if lease:
                env["PHOTONICD_LEASE"] = lease
            return subprocess.run([os.environ["PHOTONCTL"], *args], env=env, capture_output=True,
                                  text=True, timeout=30)
        acquired = photonctl("lease", "acquire", "--holder", "ci", "--ttl", "60")
        self.assertEqual(acquired.returncode, 0, acquired.stderr)
        lease_id = acquired.stdout.strip()
        self.assertIn("leased to ci", photonctl("lease", "show").stdout)
        refused = photonctl("set-inputs", *["0"] * 8)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("FAILED_PRECONDITION", refused.stderr)
        self.assertEqual(photonctl("set-inputs", *["0"] * 8, lease=lease_id).returncode, 0)
        self.assertEqual(photonctl("lease", "release", lease=lease_id).returncode, 0)
        self.assertIn("not leased", photonctl("lease", "show").stdout)


class ExamplesTest(unittest.TestCase):
    """The examples write their PNGs (into the build tree's examples/)."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        cls.out = os.environ.get("PHC_OUTPUT_DIR", cls.daemon.dir.name)
        os.makedirs(cls.out, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        assert cls.daemon.stop() == 0

    def run_example(self, name, *args):
        examples = os.path.join(os.path.dirname(__file__), "..", "examples")
        png = os.path.join(self.out, name.replace(".py", ".png"))
        if os.path.exists(png):
            os.remove(png)
        subprocess.run([sys.executable, os.path.join(examples, name), self.daemon.address, png,
                        *args], check=True, env=os.environ, timeout=240)
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), PNG_MAGIC)
        self.assertGreater(os.path.getsize(png), 10000)

    def test_phase_sweep_png(self):
        self.run_example("phase_sweep.py", "--points", "24")

    def test_train_curves_png(self):
        self.run_example("train_curves.py", "--steps", "400", "--dataset", "synthetic")


if __name__ == "__main__":
    unittest.main()
