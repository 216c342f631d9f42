"""Chip: one connection to photonicd and the calls a lab script makes."""

import contextlib
import os
from typing import Iterator, List, NamedTuple, Optional, Sequence, Union

import grpc
from google.protobuf import text_format

from photonic.v1 import calibration_pb2, calibration_pb2_grpc
from photonic.v1 import chip_pb2, chip_pb2_grpc
from photonic.v1 import model_pb2, model_pb2_grpc
from photonic.v1 import training_pb2, training_pb2_grpc
from photonicd.errors import from_rpc_error

_ENDED = (training_pb2.SESSION_STATE_COMPLETED, training_pb2.SESSION_STATE_CANCELLED,
          training_pb2.SESSION_STATE_FAILED)


@contextlib.contextmanager
def _translated():
    try:
        yield
    except grpc.RpcError as error:
        raise from_rpc_error(error) from None


def _iterate(stream):
    with _translated():
        yield from stream


class Sweep(NamedTuple):
    """Readings of Chip.sweep: one row per configuration."""
    photocurrent_ua: "numpy.ndarray"
    optical_power_mw: "numpy.ndarray"


class Session:
    """A training session in the daemon. Iterate progress() for its status
    until it ends; result() waits for the end and returns the final status."""

    def __init__(self, stub, status):
        self._stub = stub
        self.id = status.id
        self.status = status

    def _call(self, method):
        with _translated():
            self.status = method(training_pb2.SessionRequest(id=self.id))
        return self.status

    def progress(self) -> Iterator[training_pb2.SessionStatus]:
        for status in _iterate(self._stub.WatchSession(training_pb2.SessionRequest(id=self.id))):
            self.status = status
            yield status

    def result(self) -> training_pb2.SessionStatus:
        for _ in self.progress():
            pass
        return self.status

    def pause(self):
        return self._call(self._stub.PauseSession)

    def resume(self):
        return self._call(self._stub.ResumeSession)

    def cancel(self):
        return self._call(self._stub.CancelSession)

    def refresh(self):
        return self._call(self._stub.GetSession)

    @property
    def ended(self) -> bool:
        return self.status.state in _ENDED


class Chip:
    """A connection to photonicd at `address` ("unix:///run/photonicd.sock",
    "127.0.0.1:50051"). `token`: a bearer token sent with every call.
    `root_certificates` (PEM bytes): use TLS and trust these; with
    `client_key`/`client_certificate` for mutual TLS."""

    def __init__(self, address: str, token: Optional[str] = None,
                 root_certificates: Optional[bytes] = None, client_key: Optional[bytes] = None,
                 client_certificate: Optional[bytes] = None, timeout_s: float = 30.0):
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates, client_key,
                                                       client_certificate)
            self._channel = grpc.secure_channel(address, credentials)
        else:
            self._channel = grpc.insecure_channel(address)
        self._auth = (("authorization", f"Bearer {token}"),) if token else ()
        self._metadata = self._auth
        self._lease_id = None
        self._timeout = timeout_s
        self._chip = chip_pb2_grpc.ChipServiceStub(self._channel)
        self._calibration = calibration_pb2_grpc.CalibrationServiceStub(self._channel)
        self._training = training_pb2_grpc.TrainingServiceStub(self._channel)
        self._models = model_pb2_grpc.ModelServiceStub(self._channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._channel.close()

    def _unary(self, method, request):
        with _translated():
            return method(request, timeout=self._timeout, metadata=self._metadata)

    # --- the chip ---

    def info(self) -> chip_pb2.ChipInfo:
        """The chip's description and present limits (asked every time: the
        power budget can change at run time)."""
        return self._unary(self._chip.GetChipInfo, chip_pb2.GetChipInfoRequest())

    def set_phases(self, phases_rad: Sequence[float],
                   indices: Optional[Sequence[int]] = None) -> chip_pb2.SetPhasesResponse:
        """Every phase (indices None) or phases_rad[i] for indices[i]."""
        return self._unary(self._chip.SetPhases,
                           chip_pb2.SetPhasesRequest(phases_rad=list(phases_rad),
                                                     indices=list(indices or [])))

    def phases(self) -> chip_pb2.GetPhasesResponse:
        return self._unary(self._chip.GetPhases, chip_pb2.GetPhasesRequest())

    def set_inputs(self, amplitudes: Sequence[float]) -> chip_pb2.SetInputsResponse:
        return self._unary(self._chip.SetInputs,
                           chip_pb2.SetInputsRequest(amplitudes=list(amplitudes)))

    def read(self, averages: int = 1) -> chip_pb2.ReadDetectorsResponse:
        return self._unary(self._chip.ReadDetectors,
                           chip_pb2.ReadDetectorsRequest(averages=averages))

    def sweep(self, phases_rad=None, amplitudes=None, averages: int = 1,
              batch: int = 512) -> Sweep:
        """Runs many configurations in order, in one pipelined Query stream
        of batched messages (`batch` configurations each), and returns their
        readings as numpy arrays of shape (configurations, outputs).

        `phases_rad`: None (keep the chip's phases) or one row of every phase
        per configuration, shape (configurations, phase_count).
        `amplitudes`: None (keep the inputs) or one row per configuration,
        shape (configurations, input_count). Writing needs an operator token
        and the lease rules apply. A bad configuration raises InvalidArgument
        naming it; configurations of earlier messages have then run, nothing
        of its own message has."""
        import numpy as np

        if not 1 <= batch <= 4096:
            raise ValueError(f"batch must be in [1, 4096], got {batch}")
        rows = [np.asarray(a, dtype=np.float64) for a in (phases_rad, amplitudes) if a is not None]
        if not rows:
            raise ValueError("give phases_rad, amplitudes or both")
        if any(r.ndim != 2 for r in rows) or len({r.shape[0] for r in rows}) != 1:
            raise ValueError("phases_rad and amplitudes must be 2-D with one row per "
                             "configuration, the same number of rows")
        count = rows[0].shape[0]
        phases = None if phases_rad is None else np.asarray(phases_rad, dtype=np.float64)
        inputs = None if amplitudes is None else np.asarray(amplitudes, dtype=np.float64)

        def requests():
            for tag, start in enumerate(range(0, count, batch)):
                stop = min(count, start + batch)
                request = chip_pb2.QueryRequest(tag=tag, count=stop - start, averages=averages)
                if phases is not None:
                    request.phases_rad.extend(phases[start:stop].ravel().tolist())
                if inputs is not None:
                    request.amplitudes.extend(inputs[start:stop].ravel().tolist())
                yield request

        currents, powers = [], []
        with _translated():
            for response in self._chip.Query(requests(), metadata=self._metadata):
                currents.append(np.array(response.photocurrent_ua, dtype=np.float64))
                powers.append(np.array(response.optical_power_mw, dtype=np.float64))
        outputs = currents[0].size // min(batch, count)
        return Sweep(np.concatenate(currents).reshape(count, outputs),
                     np.concatenate(powers).reshape(count, outputs))

    def temperature(self) -> chip_pb2.Temperature:
        """The chip's temperature and the TEC setpoint (LimitExceeded when the
        daemon has no TEC)."""
        return self._unary(self._chip.GetTemperature, chip_pb2.GetTemperatureRequest())

    def set_temperature_setpoint(self, celsius: float) -> chip_pb2.Temperature:
        """A new TEC setpoint (operator; InvalidArgument outside the TEC's
        range); returns the temperature read after it."""
        return self._unary(self._chip.SetTemperatureSetpoint,
                           chip_pb2.SetTemperatureSetpointRequest(setpoint_c=celsius))

    def set_power_budget(self, max_total_heater_power_mw: float) -> chip_pb2.Limits:
        return self._unary(
            self._chip.SetPowerBudget,
            chip_pb2.SetPowerBudgetRequest(max_total_heater_power_mw=max_total_heater_power_mw))

    # --- the write lease ---

    @contextlib.contextmanager
    def lease(self, holder: str, ttl_s: float = 60.0):
        """Holds the chip's exclusive write lease for the `with` block: this
        connection's writes carry it, other clients' writes are refused.
        Renew it with renew_lease() in blocks longer than ttl_s."""
        reply = self._unary(self._chip.AcquireLease,
                            chip_pb2.AcquireLeaseRequest(holder=holder, ttl_seconds=ttl_s))
        self._holder, self._ttl = holder, ttl_s
        self._set_lease(reply.lease_id)
        try:
            yield reply
        finally:
            lease_id = self._lease_id
            self._set_lease(None)
            with contextlib.suppress(Exception):
                self._unary(self._chip.ReleaseLease, chip_pb2.ReleaseLeaseRequest(lease_id=lease_id))

    def renew_lease(self):
        return self._unary(self._chip.AcquireLease,
                           chip_pb2.AcquireLeaseRequest(holder=self._holder, ttl_seconds=self._ttl,
                                                        lease_id=self._lease_id))

    def lease_holder(self) -> chip_pb2.Lease:
        return self._unary(self._chip.GetLease, chip_pb2.GetLeaseRequest())

    def _set_lease(self, lease_id):
        self._lease_id = lease_id
        self._metadata = self._auth + ((("x-photonicd-lease", lease_id),) if lease_id else ())

    # --- calibration ---

    def calibrate(self, **options) -> Iterator[calibration_pb2.CalibrationProgress]:
        """Yields progress; the last message carries the result. Options are
        CalibrateRequest's fields (configurations, sweep_points, averages,
        seed, max_restarts). The calibration goes on in the daemon if this
        generator is closed early: calibrate() again watches it,
        cancel_calibration() stops it."""
        stream = self._calibration.Calibrate(calibration_pb2.CalibrateRequest(**options),
                                             metadata=self._metadata)
        yield from _iterate(stream)

    def cancel_calibration(self) -> float:
        """Stops the running calibration (the chip goes back to its safe
        state, the previous calibration stays); returns the fraction it had
        done. NOT_FOUND when none runs."""
        return self._unary(self._calibration.CancelCalibration,
                           calibration_pb2.CancelCalibrationRequest()).fraction_done

    def calibration(self) -> calibration_pb2.PhaseCalibration:
        return self._unary(self._calibration.GetCalibration,
                           calibration_pb2.GetCalibrationRequest())

    # --- training ---

    def train(self, widths: Optional[Sequence[int]] = None, algorithm: str = "sparse_zo",
              steps: int = 1000, batch: int = 0, dataset: Optional[str] = None, seed: int = 1,
              eval_every: int = 0, from_model: str = "", **config) -> Session:
        """Starts a session and returns it at once: an ONN of `widths`, or
        with `from_model` the deployed model of that id, fine-tuned on the
        chip (ZO algorithms; the data are the model's). Further keyword
        arguments are SessionConfig fields (train_samples, power_budget_mw,
        target_accuracy, ...); `algorithm_options` a dict of
        TrainingAlgorithm fields (learning_rate, active_fraction,
        visit_fraction, prune_probability, feedback, ...)."""
        if not widths and not from_model:
            raise ValueError("train: give widths or from_model")
        algorithm_options = config.pop("algorithm_options", {})
        if dataset is None:
            dataset = "" if from_model else "fashion-mnist"
        session_config = training_pb2.SessionConfig(
            widths=list(widths or []), max_steps=steps, batch_size=batch, dataset=dataset,
            seed=seed, eval_every=eval_every, from_model=from_model,
            algorithm=training_pb2.TrainingAlgorithm(name=algorithm, **algorithm_options),
            **config)
        status = self._unary(self._training.StartSession,
                             training_pb2.StartSessionRequest(config=session_config))
        return Session(_MetadataStub(self._training, self), status)

    def session(self, session_id: str) -> Session:
        """An existing session (to watch, pause, resume or cancel it)."""
        status = self._unary(self._training.GetSession,
                             training_pb2.SessionRequest(id=session_id))
        return Session(_MetadataStub(self._training, self), status)

    def sessions(self):
        return list(self._unary(self._training.ListSessions,
                                training_pb2.ListSessionsRequest()).sessions)

    # --- models: train in silico, deploy, evaluate on the chip ---

    def train_model(self, model_id: str, spec: Union[model_pb2.ModelSpec, str, os.PathLike],
                    epochs: int = 0, batch_size: int = 0, learning_rate: float = 0.0,
                    phase_noise_std_rad: float = 0.0, seed: int = 0, train_limit: int = 0,
                    test_limit: int = 0, digital_twin: bool = False
                    ) -> Iterator[model_pb2.TrainInSilicoProgress]:
        """Trains a new model in silico in the daemon (not on the chip) and
        yields one TrainInSilicoProgress per epoch; the last one has done set
        and carries the stored ModelInfo. `spec`: a ModelSpec, or the path of
        a text-format file (deploy/models/*.textproto). Zeros pick the
        daemon's defaults (10 epochs, batch 32, learning rate 0.002, all
        samples). Closing the generator early cancels the training (nothing
        is stored then)."""
        if not isinstance(spec, model_pb2.ModelSpec):
            with open(spec) as f:
                spec = text_format.Parse(f.read(), model_pb2.ModelSpec())
        request = model_pb2.TrainInSilicoRequest(
            model_id=model_id, spec=spec, epochs=epochs, batch_size=batch_size,
            learning_rate=learning_rate, phase_noise_std_rad=phase_noise_std_rad, seed=seed,
            train_limit=train_limit, test_limit=test_limit, digital_twin=digital_twin)
        stream = self._models.TrainInSilico(request, metadata=self._metadata)
        try:
            yield from _iterate(stream)
        finally:
            stream.cancel()  # no-op once the call has ended

    def deploy_model(self, model_id: str) -> model_pb2.DeployReply:
        """Writes the model's phases onto its cores (a write: the lease rules
        apply); every other heater is left at zero power."""
        return self._unary(self._models.Deploy, model_pb2.DeployRequest(model_id=model_id))

    def evaluate_model(self, model_id: str, test_limit: int = 0,
                       averages: int = 0) -> Iterator[model_pb2.EvaluateProgress]:
        """Measures the deployed model's test accuracy on the chip; yields
        progress after every batch, the last with done and accuracy set."""
        stream = self._models.Evaluate(
            model_pb2.EvaluateRequest(model_id=model_id, test_limit=test_limit,
                                      averages=averages),
            metadata=self._metadata)
        try:
            yield from _iterate(stream)
        finally:
            stream.cancel()

    def program_model(self, model_id: str, sweeps: int = 0, refinements: int = 0,
                      averages: int = 0) -> Iterator[model_pb2.ProgramInSituProgress]:
        """Programs the deployed model's cores against the chip's own
        readings (closed loop; a write: the lease rules apply); yields
        progress after every sweep and refinement, the last with done set
        (mean_residual against initial_residual, queries). Zeros pick the
        daemon's defaults (6 sweeps, 20 refinements, 1 average). Run
        calibrate() first. Closing the generator early cancels it (the chip
        goes back to the deployed phases)."""
        stream = self._models.ProgramInSitu(
            model_pb2.ProgramInSituRequest(model_id=model_id, sweeps=sweeps,
                                           refinements=refinements, averages=averages),
            metadata=self._metadata)
        try:
            yield from _iterate(stream)
        finally:
            stream.cancel()

    def model(self, model_id: str) -> model_pb2.ModelInfo:
        return self._unary(self._models.GetModel, model_pb2.GetModelRequest(model_id=model_id))

    def models(self) -> List[model_pb2.ModelInfo]:
        return list(self._unary(self._models.ListModels, model_pb2.ListModelsRequest()).models)

    def delete_model(self, model_id: str) -> None:
        """Refused (LimitExceeded) for the deployed model."""
        self._unary(self._models.DeleteModel, model_pb2.DeleteModelRequest(model_id=model_id))


class _MetadataStub:
    """The training stub with the connection's present metadata (token,
    lease) on every call."""

    def __init__(self, stub, chip):
        self._stub = stub
        self._chip = chip

    def __getattr__(self, name):
        method = getattr(self._stub, name)
        return lambda request: method(request, metadata=self._chip._metadata)
