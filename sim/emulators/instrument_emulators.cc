#include "instrument_emulators.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace photonsim::emulators {
namespace {

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// The number after `prefix` up to `stop` (or the end), if the line has the form.
bool ParseIntAfter(const std::string& line, const std::string& prefix, char stop, int& out,
                   std::size_t& end) {
  if (!line.starts_with(prefix)) return false;
  end = stop ? line.find(stop, prefix.size()) : line.size();
  if (end == std::string::npos || end == prefix.size()) return false;
  const auto [p, ec] = std::from_chars(line.data() + prefix.size(), line.data() + end, out);
  return ec == std::errc() && p == line.data() + end;
}

bool ParseDouble(std::string_view text, double& out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size() && std::isfinite(out);
}

class QontrolChain final : public LineDevice {
 public:
  QontrolChain(SimChip& chip, WallTime& time, QontrolRole role, double max_voltage_v)
      : chip_(chip),
        time_(time),
        role_(role),
        channels_(role == QontrolRole::kHeaters ? chip.heater_count() : chip.modulator_count()),
        vmax_(channels_, max_voltage_v),
        hardware_max_v_(max_voltage_v),
        bipolar_(role == QontrolRole::kModulators && chip.modulators_bipolar()) {}

  std::vector<std::string> Answer(const std::string& line) override {
    time_.Sync();
    int ch = 0;
    std::size_t end = 0;
    if (line == "ID?") {
      return {role_ == QontrolRole::kHeaters ? "Qontrol Q8iv chain (photonsim heaters)"
                                             : "Qontrol Q8iv chain (photonsim modulators)"};
    }
    if (line == "NUPALL?") {
      std::vector<std::string> modules;
      for (int first = 0, index = 0; first < channels_; first += 8, ++index) {
        modules.push_back(std::to_string(index) +
                          ":Q8iv:" + std::to_string(std::min(8, channels_ - first)));
      }
      modules.push_back("OK");
      return modules;
    }
    if (line == "VALL?") {
      std::string all;
      const std::vector<double>& v = Volts();
      for (int k = 0; k < channels_; ++k) all += (k ? "," : "") + Format("%+.4f V", v[k]);
      return {all};
    }
    if (ParseIntAfter(line, "I", '?', ch, end) && end + 1 == line.size()) {
      if (ch < 0 || ch >= channels_) return {Error(12, ch)};
      const double r = role_ == QontrolRole::kHeaters
                           ? chip_.hidden_truth_for_testing().heater_resistance_ohm[ch]
                           : 1e4;
      return {Format("%+.4f mA", 1e3 * Volts()[ch] / r)};
    }
    if (ParseIntAfter(line, "VVEC", '=', ch, end)) {
      std::vector<int> channels;
      std::vector<double> volts;
      std::string_view rest(line.c_str() + end + 1);
      for (int k = ch;; ++k) {
        const std::size_t comma = rest.find(',');
        double value = 0;
        if (k < 0 || k >= channels_) return {Error(12, k)};
        if (!ParseDouble(rest.substr(0, comma), value) || (value < 0 && !bipolar_)) {
          return {Error(11, k)};
        }
        if (std::abs(value) > vmax_[k]) return {Error(1, k)};
        channels.push_back(k);
        volts.push_back(value);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      Apply(channels, volts);
      return {"OK"};
    }
    for (const char* limit : {"VMAX", "IMAX"}) {
      if (ParseIntAfter(line, limit, '=', ch, end)) {
        double value = 0;
        if (ch < 0 || ch >= channels_) return {Error(12, ch)};
        if (!ParseDouble(std::string_view(line).substr(end + 1), value) || value <= 0) {
          return {Error(11, ch)};
        }
        if (limit[0] == 'V') vmax_[ch] = std::min(value, hardware_max_v_);
        return {"OK"};
      }
    }
    if (ParseIntAfter(line, "V", '=', ch, end)) {
      double value = 0;
      if (ch < 0 || ch >= channels_) return {Error(12, ch)};
      if (!ParseDouble(std::string_view(line).substr(end + 1), value) || (value < 0 && !bipolar_)) {
        return {Error(11, ch)};
      }
      if (std::abs(value) > vmax_[ch]) return {Error(1, ch)};
      const std::vector<int> channels = {ch};
      const std::vector<double> volts = {value};
      Apply(channels, volts);
      return {"OK"};
    }
    if (ParseIntAfter(line, "V", '?', ch, end) && end + 1 == line.size()) {
      if (ch < 0 || ch >= channels_) return {Error(12, ch)};
      return {Format("%+.4f V", Volts()[ch])};
    }
    return {"E10"};
  }

 private:
  static std::string Error(int code, int channel) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "E%02d:%d", code, channel);
    return buffer;
  }
  const std::vector<double>& Volts() const {
    return role_ == QontrolRole::kHeaters ? chip_.heater_voltages_v()
                                          : chip_.modulator_voltages_v();
  }
  void Apply(const std::vector<int>& channels, const std::vector<double>& volts) {
    if (role_ == QontrolRole::kHeaters) {
      chip_.SetHeaterVoltages(channels, volts);
      if (chip_.heaters_off()) time_.MarkHeatersOff();
    } else {
      std::vector<double> all = chip_.modulator_voltages_v();
      for (std::size_t i = 0; i < channels.size(); ++i) all[channels[i]] = volts[i];
      chip_.SetModulatorVoltages(all);
    }
  }

  SimChip& chip_;
  WallTime& time_;
  QontrolRole role_;
  int channels_;
  std::vector<double> vmax_;
  double hardware_max_v_;
  // A bipolar modulator chain takes [-VMAX, VMAX]; others refuse negatives.
  bool bipolar_;
};

// The SCPI error queue shared by the ADC and TEC emulators.
class ScpiDevice : public LineDevice {
 protected:
  std::vector<std::string> Common(const std::string& line, const std::string& identity,
                                  bool& handled) {
    handled = true;
    if (line == "*IDN?") return {identity};
    if (line == "SYST:ERR?") {
      if (errors_.empty()) return {"0,\"No error\""};
      std::string e = errors_.front();
      errors_.pop_front();
      return {e};
    }
    handled = false;
    return {};
  }
  void Push(const std::string& error) {
    if (errors_.size() < 16) errors_.push_back(error);
  }

 private:
  std::deque<std::string> errors_;
};

class ScpiAdc final : public ScpiDevice {
 public:
  ScpiAdc(SimChip& chip, WallTime& time) : chip_(chip), time_(time) {}
  std::vector<std::string> Answer(const std::string& line) override {
    time_.Sync();
    bool handled = false;
    auto common = Common(line, "photonsim,ADC,0,1.0", handled);
    if (handled) return common;
    if (line == "READ:CURR?") {
      std::string all;
      const std::vector<double> currents = chip_.ReadPhotocurrentsA(1);
      for (std::size_t k = 0; k < currents.size(); ++k) {
        all += (k ? "," : "") + Format("%+.9E", currents[k]);
      }
      return {all};
    }
    if (line.starts_with("SENS:AVER:TIME ")) {
      double value = 0;
      if (!ParseDouble(std::string_view(line).substr(15), value) || value <= 0 || value > 1.0) {
        Push("-222,\"Data out of range\"");
      }
      return {};
    }
    Push("-113,\"Undefined header\"");
    return {};
  }

 private:
  SimChip& chip_;
  WallTime& time_;
};

class ScpiTec final : public ScpiDevice {
 public:
  ScpiTec(SimChip& chip, WallTime& time) : chip_(chip), time_(time) {}
  std::vector<std::string> Answer(const std::string& line) override {
    time_.Sync();
    bool handled = false;
    auto common = Common(line, "photonsim,TEC,0,1.0", handled);
    if (handled) return common;
    if (line == "TEC:T?") return {Format("%+.4f", chip_.temperature_c())};
    double value = 0;
    for (const char* setting : {"TEC:T ", "TEC:LIM:TMIN ", "TEC:LIM:TMAX ", "TEC:OUT "}) {
      const std::string prefix = setting;
      if (!line.starts_with(prefix)) continue;
      if (!ParseDouble(std::string_view(line).substr(prefix.size()), value)) {
        Push("-224,\"Illegal parameter value\"");
        return {};
      }
      if (prefix == "TEC:T ") {
        if (value < min_c_ || value > max_c_) {
          Push("-222,\"Data out of range\"");
        } else {
          chip_.SetTecSetpointC(value);
        }
      } else if (prefix == "TEC:LIM:TMIN ") {
        min_c_ = value;
      } else if (prefix == "TEC:LIM:TMAX ") {
        max_c_ = value;
      }
      return {};
    }
    Push("-113,\"Undefined header\"");
    return {};
  }

 private:
  SimChip& chip_;
  WallTime& time_;
  double min_c_ = -40.0;
  double max_c_ = 120.0;
};

}  // namespace

void WallTime::Sync() {
  const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now() - start_);
  if (elapsed > chip_.now()) chip_.Advance(elapsed - chip_.now());
}

std::unique_ptr<LineDevice> MakeQontrolChain(SimChip& chip, WallTime& time, QontrolRole role,
                                             double max_voltage_v) {
  return std::make_unique<QontrolChain>(chip, time, role, max_voltage_v);
}
std::unique_ptr<LineDevice> MakeScpiAdc(SimChip& chip, WallTime& time) {
  return std::make_unique<ScpiAdc>(chip, time);
}
std::unique_ptr<LineDevice> MakeScpiTec(SimChip& chip, WallTime& time) {
  return std::make_unique<ScpiTec>(chip, time);
}

}  // namespace photonsim::emulators
