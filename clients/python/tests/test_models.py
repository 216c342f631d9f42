"""ModelService through the Python client against the real daemon on the
tiny coherent chip (deploy/chips/svd4_coherent_test.textproto): train in
silico, deploy, program in situ, evaluate, list, delete, and the typed
errors."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemon import Daemon  # noqa: E402

import photonicd  # noqa: E402
from photonic.v1 import model_pb2, training_pb2  # noqa: E402
from photonicd import Chip  # noqa: E402

TINY_SPEC = """
name: "tiny"
input { dataset: "synthetic" image_size: 4 classes: 3 }
core_size: 4
layers { linear { outputs: 4 } }
layers { relu { clip: 4 } }
layers { linear { outputs: 3 } }
"""


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.config_dir = tempfile.TemporaryDirectory(prefix="photonicd_models_")
        chip = os.path.join(os.environ["PHC_SOURCE_DIR"], "deploy", "chips",
                            "svd4_coherent_test.textproto")
        config = os.path.join(cls.config_dir.name, "photonicd.textproto")
        with open(config, "w") as f:
            f.write(f'chip_file: "{chip}"\nbackend: BACKEND_SIM\nsim {{ seed: 3 }}\n')
        cls.spec_file = os.path.join(cls.config_dir.name, "tiny.textproto")
        with open(cls.spec_file, "w") as f:
            f.write(TINY_SPEC)
        cls.daemon = Daemon(config=config)
        cls.chip = Chip(cls.daemon.address)

    @classmethod
    def tearDownClass(cls):
        cls.chip.close()
        assert cls.daemon.stop() == 0
        cls.config_dir.cleanup()

    def train(self, model_id, **options):
        options = dict(dict(epochs=8, batch_size=16, learning_rate=0.01, seed=3,
                            train_limit=600, test_limit=90), **options)
        return list(self.chip.train_model(model_id, options.pop("spec", self.spec_file),
                                          **options))

    def test_train_deploy_evaluate_and_delete(self):
        progress = self.train("py_tiny")
        self.assertEqual([p.epoch for p in progress[:-1]], list(range(1, 9)))
        last = progress[-1]
        self.assertTrue(last.done)
        self.assertEqual(last.model.model_id, "py_tiny")
        self.assertEqual(last.model.chip_name, "svd4_coherent_test")
        self.assertEqual(last.model.core_count, 5)
        self.assertTrue(last.model.persistent)  # the test daemon has a state_dir

        reply = self.chip.deploy_model("py_tiny")
        self.assertEqual(reply.phases_written, 160)
        self.assertEqual(list(reply.circuits), [0, 1, 2, 3, 4])
        evaluation = list(self.chip.evaluate_model("py_tiny", test_limit=90))
        done = evaluation[-1]
        self.assertTrue(done.done)
        self.assertEqual(done.done_samples, 90)
        self.assertGreater(done.accuracy, 0.6)  # chance: 1/3
        self.assertAlmostEqual(done.accuracy, done.in_silico_accuracy, delta=0.1)
        info = self.chip.model("py_tiny")
        self.assertTrue(info.deployed)
        self.assertEqual(info.last_chip_accuracy, done.accuracy)
        self.assertIn("py_tiny", [m.model_id for m in self.chip.models()])
        with self.assertRaises(photonicd.LimitExceeded) as raised:
            self.chip.delete_model("py_tiny")
        self.assertIn("deployed", raised.exception.message)

    def test_program_in_situ_then_evaluate(self):
        self.train("py_prog", epochs=2)
        self.chip.deploy_model("py_prog")
        self.assertEqual(self.chip.model("py_prog").programmed_residual, -1.0)
        progress = list(self.chip.program_model("py_prog", sweeps=1, refinements=2))
        last = progress[-1]
        self.assertTrue(last.done)
        self.assertEqual(last.total, 3)
        self.assertEqual(last.completed, 3)
        self.assertLessEqual(last.mean_residual, last.initial_residual + 1e-9)
        self.assertGreater(last.queries, 0)
        info = self.chip.model("py_prog")
        self.assertTrue(info.deployed)
        self.assertGreaterEqual(info.programmed_residual, 0.0)
        self.assertAlmostEqual(info.programmed_residual, last.mean_residual, delta=1e-9)
        evaluation = list(self.chip.evaluate_model("py_prog", test_limit=30))
        self.assertTrue(evaluation[-1].done)

    def test_session_fine_tunes_the_programmed_deployment(self):
        with self.assertRaises(ValueError):
            self.chip.train()  # neither widths nor a model
        self.train("py_ft", epochs=4)
        self.chip.deploy_model("py_ft")
        list(self.chip.program_model("py_ft", sweeps=1, refinements=2))
        measured = list(self.chip.evaluate_model("py_ft", test_limit=90))[-1].accuracy
        session = self.chip.train(from_model="py_ft", steps=6, batch=16, eval_every=3,
                                  train_samples=600, test_samples=90,
                                  algorithm_options=dict(active_fraction=0.5))
        result = session.result()
        self.assertEqual(result.state, training_pb2.SESSION_STATE_COMPLETED,
                         result.termination_reason)
        self.assertEqual(result.step, 6)
        self.assertEqual(result.trained_phases, 160)
        self.assertEqual(result.dataset_source, "synthetic")
        self.assertAlmostEqual(result.config.algorithm.param_sparsity, 0.5)
        # It starts from the programmed deployment, read through the
        # measured receivers, as the evaluation was.
        self.assertAlmostEqual(result.initial_test_accuracy, measured, delta=0.05)

    def test_program_refused_unless_deployed(self):
        self.train("py_undeployed", epochs=1)
        with self.assertRaises(photonicd.LimitExceeded) as raised:
            list(self.chip.program_model("py_undeployed", sweeps=1, refinements=1))
        self.assertIn("deployed", raised.exception.message)
        self.assertEqual(self.chip.model("py_undeployed").programmed_residual, -1.0)
        self.chip.delete_model("py_undeployed")

    def test_spec_as_a_message_and_typed_errors(self):
        spec = model_pb2.ModelSpec()
        from google.protobuf import text_format
        text_format.Parse(TINY_SPEC, spec)
        self.train("py_msg", spec=spec, epochs=1)
        with self.assertRaises(photonicd.AlreadyExists):
            self.train("py_msg", spec=spec, epochs=1)
        spec.layers[2].linear.outputs = 5
        with self.assertRaises(photonicd.InvalidArgument) as raised:
            self.train("py_bad", spec=spec)
        self.assertIn("one output per class", raised.exception.message)
        with self.assertRaises(photonicd.NotFound):
            self.chip.model("py_nope")
        with self.assertRaises(photonicd.NotFound):
            self.chip.deploy_model("py_nope")
        self.assertNotIn("py_bad", [m.model_id for m in self.chip.models()])
        self.chip.delete_model("py_msg")
        self.assertNotIn("py_msg", [m.model_id for m in self.chip.models()])


if __name__ == "__main__":
    unittest.main()
