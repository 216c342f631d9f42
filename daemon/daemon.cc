#include "daemon/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/metrics/chip_snapshot.h"
#include "daemon/metrics/rpc_metrics_interceptor.h"
#include "daemon/web/web_handler.h"
#include "phc/drivers/serial/serial_drivers.h"
#include "phc/drivers/sim_backend.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

absl::StatusOr<drivers::DriverSet> MakeDrivers(const LoadedConfig& config) {
  switch (config.daemon.backend()) {
    case photonic::v1::BACKEND_SIM: {
      return drivers::MakeSimBackend(config.chip, config.daemon.sim().seed());
    }
    case photonic::v1::BACKEND_SERIAL: {
      const photonic::v1::SerialBackendConfig& serial = config.daemon.serial();
      drivers::serial::SerialPorts ports{
          .heaters = serial.heaters(),
          .modulators = serial.modulators(),
          .adc = serial.adc(),
          .tec = serial.tec(),
          .baud = serial.baud() ? static_cast<int>(serial.baud()) : 115200,
          .timeout = std::chrono::milliseconds(serial.timeout_ms() ? serial.timeout_ms() : 200),
          .adc_conversion_time_s =
              serial.adc_conversion_time_s() > 0 ? serial.adc_conversion_time_s() : 1e-6,
          .heater_max_voltage_v = config.chip.heater().max_voltage_v(),
          .modulator_max_voltage_v = config.chip.modulator().max_voltage_v(),
          .modulator_bipolar = config.chip.modulator().bipolar(),
          .tec_setpoint_c = config.chip.tec().setpoint_c(),
          .backoff = {},
      };
      return drivers::serial::MakeSerialDrivers(ports);
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "backend ", photonic::v1::Backend_Name(config.daemon.backend()), " is not supported"));
  }
}

std::string ResolvedAddress(const std::string& requested, int selected_port) {
  if (requested.starts_with("unix:")) return requested;
  const std::size_t colon = requested.rfind(':');
  return absl::StrCat(requested.substr(0, colon), ":", selected_port);
}

}  // namespace

static std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const std::optional<TlsMaterial>& tls) {
  if (!tls) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls->client_ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                 : (tls->require_client_certificate
                                        ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                        : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY));
  options.pem_root_certs = tls->client_ca_pem;
  options.pem_key_cert_pairs.push_back({tls->private_key_pem, tls->certificate_pem});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const LoadedConfig& config) {
  absl::StatusOr<drivers::DriverSet> drivers = MakeDrivers(config);
  if (!drivers.ok()) return drivers.status();

  if (config.tls && config.daemon.listen_address().starts_with("unix:")) {
    return absl::InvalidArgumentError("tls needs a TCP listen address, not a Unix socket");
  }
  std::unique_ptr<Daemon> daemon(new Daemon());
  daemon->access_ = config.access;
  absl::StatusOr<std::unique_ptr<ChipController>> controller = ChipController::Create(
      config.chip, *std::move(drivers),
      config.daemon.settle_time_constants() > 0 ? config.daemon.settle_time_constants() : 8.0);
  if (!controller.ok()) return controller.status();
  daemon->controller_ = *std::move(controller);
  daemon->chip_service_ =
      std::make_unique<ChipServiceImpl>(*daemon->controller_, daemon->guard_, daemon->leases_);
  // A simulated chip is a different chip for every seed.
  const std::string instance =
      config.daemon.backend() == photonic::v1::BACKEND_SIM
          ? absl::StrCat(config.chip.name(), ".sim-seed-", config.daemon.sim().seed())
          : config.chip.name();
  daemon->calibration_state_ = std::make_unique<CalibrationState>(CalibrationState{
      std::nullopt, CalibrationStore(config.daemon.state_dir(), instance), nullptr});
  ChipController* controller_ptr = daemon->controller_.get();
  CalibrationState* state_ptr = daemon->calibration_state_.get();
  controller_ptr->RunSync(
      [controller_ptr, state_ptr] { LoadStoredCalibration(*controller_ptr, *state_ptr); });
  daemon->calibration_service_ = std::make_unique<CalibrationServiceImpl>(
      *daemon->controller_, *daemon->calibration_state_, daemon->guard_);
  // Models are trained in silico for the chip's design, not for one
  // simulated instance: they belong to the chip's name.
  daemon->models_ = std::make_unique<ModelStore>(config.daemon.state_dir(), config.chip.name());
  daemon->models_->LoadAll();
  // Sessions resume after the models are loaded: from_model ones need theirs.
  daemon->sessions_ =
      std::make_unique<SessionManager>(*daemon->controller_, config.daemon.state_dir(), instance,
                                       config.daemon.fashion_mnist_dir(), daemon->models_.get());
  SessionManager* sessions_ptr = daemon->sessions_.get();
  controller_ptr->RunSync([sessions_ptr] { sessions_ptr->Recover(); });
  daemon->training_service_ = std::make_unique<TrainingServiceImpl>(
      *daemon->controller_, *daemon->sessions_, daemon->guard_);
  daemon->model_workers_ = std::make_unique<ModelWorkers>();
  daemon->model_service_ = std::make_unique<ModelServiceImpl>(
      *daemon->controller_, *daemon->models_, *daemon->model_workers_, daemon->guard_,
      config.daemon.fashion_mnist_dir());

  daemon->PrepareMetrics(config, instance);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (daemon->metrics_) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<RpcMetricsInterceptorFactory>(*daemon->metrics_));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  int selected_port = 0;
  const std::string& listen = config.daemon.listen_address();
  builder.AddListeningPort(listen, ServerCredentials(config.tls), &selected_port);
  builder.RegisterService(daemon->chip_service_.get());
  builder.RegisterService(daemon->calibration_service_.get());
  builder.RegisterService(daemon->training_service_.get());
  builder.RegisterService(daemon->model_service_.get());
  daemon->server_ = builder.BuildAndStart();
  if (!daemon->server_ || (!listen.starts_with("unix:") && selected_port == 0)) {
    daemon->AbandonStart();
    return absl::UnavailableError(absl::StrCat("cannot listen on \"", listen,
                                               "\" (address in use, bad address or permissions)"));
  }
  daemon->address_ = ResolvedAddress(listen, selected_port);
  if (absl::Status s = daemon->StartHttp(config); !s.ok()) {
    daemon->AbandonStart();
    return s;
  }
  daemon->server_->GetHealthCheckService()->SetServingStatus(true);
  if (const auto& links = daemon->controller_->links()) {
    // Health follows the instrument links: NOT_SERVING while one is lost.
    grpc::HealthCheckServiceInterface* health = daemon->server_->GetHealthCheckService();
    links->SetListener([health](bool all_up, const std::string& description) {
      health->SetServingStatus(all_up);
      if (all_up) {
        spdlog::info("health SERVING: {}", description);
      } else {
        spdlog::error("health NOT_SERVING: {}", description);
      }
    });
    if (!links->AllUp()) health->SetServingStatus(false);
  }
  spdlog::info(
      "serving chip \"{}\" ({} circuits, {} phases, {} inputs, {} outputs, backend {}) on {}",
      config.chip.name(), daemon->controller_->layout().circuits.size(),
      daemon->controller_->phase_count(), daemon->controller_->input_count(),
      daemon->controller_->output_count(), daemon->controller_->backend_name(), daemon->address_);
  return daemon;
}

void Daemon::PrepareMetrics(const LoadedConfig& config, const std::string& instance) {
  if (config.daemon.http().listen_address().empty()) return;
  metrics_ =
      std::make_unique<DaemonMetrics>(config.chip.name(), controller_->backend_name(), instance);
  controller_->SetTaskObserver(metrics_.get());
  chip_service_->set_query_observer(metrics_.get());
  snapshots_ = std::make_unique<SnapshotCache>(
      *controller_, [controller = controller_.get(), calibration = calibration_state_.get(),
                     sessions = sessions_.get()] {
        return TakeChipSnapshot(*controller, *calibration, *sessions);
      });
}

absl::Status Daemon::StartHttp(const LoadedConfig& config) {
  if (!metrics_) return absl::OkStatus();
  const photonic::v1::HttpConfig& http = config.daemon.http();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      HttpServerOptions{
          .listen_address = http.listen_address(),
          .tls = config.tls,
          .max_connections = http.max_connections() > 0 ? http.max_connections() : 512u,
      },
      MakeWebHandler(WebContext{.metrics = *metrics_,
                                .snapshots = *snapshots_,
                                .controller = *controller_,
                                .access = access_,
                                .guard = guard_,
                                .sessions = *sessions_}));
  if (!server.ok()) return server.status();
  http_ = *std::move(server);
  spdlog::info("dashboard on {0}://{1}/, metrics on {0}://{1}/metrics",
               config.tls ? "https" : "http", http_->address());
  return absl::OkStatus();
}

namespace {
constexpr int kSafeStateAttempts = 3;
constexpr auto kSafeStateRetryPause = std::chrono::milliseconds(250);
}  // namespace

void Daemon::AbandonStart() {
  if (server_) {
    server_->Shutdown();
    server_->Wait();
    server_.reset();
  }
  shut_down_ = true;
  model_workers_->Shutdown();
  sessions_->Shutdown();
  CancelRunningCalibration(*controller_, *calibration_state_);
  controller_->RunSync([c = controller_.get()] { return c->DriveToSafeState(); }).IgnoreError();
}

absl::Status Daemon::Shutdown(int grace_ms) {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  // Start failed before serving (e.g. the controller was refused): nothing
  // was started that needs stopping.
  if (!server_) return absl::OkStatus();
  if (http_) {
    http_->Stop();
    // A snapshot refresh may still be queued on the hardware thread.
    controller_->RunSync([] {});
  }
  if (const auto& links = controller_->links()) links->SetListener(nullptr);
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
  server_->Wait();
  // The server's shutdown cancelled in silico trainings and evaluations; their
  // threads end at the next minibatch.
  model_workers_->Shutdown();
  sessions_->Shutdown();
  CancelRunningCalibration(*controller_, *calibration_state_);
  // An instrument that garbles or drops one reply (the serial drivers retry
  // twice) or is reconnecting must not leave the chip powered: try again.
  absl::Status safe;
  for (int attempt = 1; attempt <= kSafeStateAttempts; ++attempt) {
    safe = controller_->RunSync([c = controller_.get()] { return c->DriveToSafeState(); });
    if (safe.ok()) break;
    spdlog::warn("driving the chip to its safe state failed (attempt {} of {}): {}", attempt,
                 kSafeStateAttempts, safe.ToString());
    // A lost link reconnects with a backoff that starts at 100 ms.
    if (attempt < kSafeStateAttempts) std::this_thread::sleep_for(kSafeStateRetryPause);
  }
  if (safe.ok()) {
    spdlog::info("all heaters and modulators driven to 0 V");
  } else {
    spdlog::critical("could not drive the chip to its safe state: {}", safe.ToString());
  }
  return safe;
}

Daemon::~Daemon() { Shutdown().IgnoreError(); }

}  // namespace phc::daemon
