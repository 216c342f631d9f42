// The termios transport on a real pseudo-terminal: lines both ways, split
// writes reassembled, timeouts, and a device that hangs up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <string>

#include "phc/drivers/serial/transport.h"

namespace phc::drivers::serial {
namespace {

struct Pty {
  int master = -1;
  std::string path;
  Pty() {
    int slave = -1;
    char name[256];
    EXPECT_EQ(::openpty(&master, &slave, name, nullptr, nullptr), 0);
    path = name;
    ::close(slave);  // the transport opens it by path
  }
  ~Pty() {
    if (master >= 0) ::close(master);
  }
  void Send(const std::string& bytes) const {
    ASSERT_EQ(::write(master, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  std::string Receive() const {
    char buffer[256];
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }
};

TEST(FdTransportTest, LinesBothWaysOverAPseudoTerminal) {
  Pty pty;
  auto transport = OpenFdTransport(pty.path);
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE((*transport)->Write("V3=1.2500\n").ok());
  EXPECT_EQ(pty.Receive(), "V3=1.2500\n");  // raw mode: no echo, no translation
  pty.Send("OK\r\n+1.25");
  pty.Send("00 V\n");
  EXPECT_EQ(*(*transport)->ReadLine(std::chrono::milliseconds(1000)), "OK");
  EXPECT_EQ(*(*transport)->ReadLine(std::chrono::milliseconds(1000)), "+1.2500 V");
  // Nothing more: a short timeout (the only waiting in this test).
  EXPECT_EQ((*transport)->ReadLine(std::chrono::milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(FdTransportTest, AHungUpDeviceIsUnavailable) {
  auto pty = std::make_unique<Pty>();
  auto transport = OpenFdTransport(pty->path);
  ASSERT_TRUE(transport.ok()) << transport.status();
  pty.reset();  // the instrument side goes away
  EXPECT_EQ((*transport)->ReadLine(std::chrono::milliseconds(1000)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenFdTransport("/dev/nonexistent-photonic-port").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace phc::drivers::serial

namespace phc::drivers::serial {
namespace {

TEST(PortSelectionTest, PseudoTerminalsGoThroughTermiosOtherPathsThroughLibserialport) {
  Pty pty;
  EXPECT_TRUE(IsPseudoTerminal(pty.path));
  EXPECT_FALSE(IsPseudoTerminal("/dev/null"));
  EXPECT_FALSE(IsPseudoTerminal("/dev/ttyUSB-photonic-absent"));
  auto transport = OpenPort(pty.path);
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE((*transport)->Write("*IDN?\n").ok());
  EXPECT_EQ(pty.Receive(), "*IDN?\n");
  // A missing USB adapter: libserialport's UNAVAILABLE, naming the path.
  const absl::Status missing = OpenPort("/dev/ttyUSB-photonic-absent").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(missing.message().find("/dev/ttyUSB-photonic-absent"), std::string::npos) << missing;
}

}  // namespace
}  // namespace phc::drivers::serial
