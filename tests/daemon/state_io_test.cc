#include "daemon/state_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace phc::daemon {
namespace {

bool Mentions(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

class StateIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir_template =
        (std::filesystem::path(::testing::TempDir()) / "state_io_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add);
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
};

TEST_F(StateIoTest, WriteThenReadRoundTripsEveryByte) {
  const std::filesystem::path path = dir_ / "blob.binpb";
  const std::string contents("a\0b\n\xff", 5);
  ASSERT_TRUE(WriteFileAtomically(path, contents).ok());
  absl::StatusOr<std::string> read = ReadFileToString(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, contents);
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(ReadFileToString(path).value_or("not empty"), "");
}

TEST_F(StateIoTest, WriteCreatesMissingDirectories) {
  const std::filesystem::path path = dir_ / "sessions" / "deep" / "s1.binpb";
  ASSERT_TRUE(WriteFileAtomically(path, "checkpoint").ok());
  EXPECT_EQ(ReadFileToString(path).value_or(""), "checkpoint");
}

TEST_F(StateIoTest, ReplaceSwapsWholeFilesAndLeavesNoTemporary) {
  const std::filesystem::path path = dir_ / "chip.calibration.textproto";
  ASSERT_TRUE(WriteFileAtomically(path, "old contents").ok());
  // A reader that opened the old file keeps reading all of it: the new
  // contents arrive as another file renamed over the name, not by
  // rewriting the old one in place.
  const int reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(WriteFileAtomically(path, "new").ok());
  char buffer[64];
  const ssize_t n = ::read(reader, buffer, sizeof buffer);
  ::close(reader);
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "old contents");
  EXPECT_EQ(ReadFileToString(path).value_or(""), "new");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

TEST_F(StateIoTest, ReadOfAMissingFileIsNotFound) {
  absl::StatusOr<std::string> read = ReadFileToString(dir_ / "absent");
  EXPECT_TRUE(absl::IsNotFound(read.status())) << read.status();
}

TEST_F(StateIoTest, WriteIntoAnUnwritableDirectoryFailsNamingTheFile) {
  std::filesystem::permissions(
      dir_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  if (::access(dir_.c_str(), W_OK) == 0) {
    GTEST_SKIP() << "this process writes into read-only directories (root)";
  }
  const std::filesystem::path path = dir_ / "chip.calibration.textproto";
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(Mentions(status, path.string() + ".tmp")) << status;
  EXPECT_TRUE(Mentions(status, "Permission denied")) << status;
}

TEST_F(StateIoTest, WriteUnderAFileFailsNamingTheDirectory) {
  // Fails for root too: a regular file where a directory should be.
  ASSERT_TRUE(WriteFileAtomically(dir_ / "state", "a file").ok());
  const std::filesystem::path path = dir_ / "state" / "sessions" / "s1.binpb";
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(Mentions(status, (dir_ / "state" / "sessions").string())) << status;
  EXPECT_EQ(ReadFileToString(dir_ / "state").value_or(""), "a file");
}

TEST_F(StateIoTest, FailedWriteLeavesTheOldFileAsItWas) {
  const std::filesystem::path path = dir_ / "chip.calibration.textproto";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  // The temporary file cannot be created: a directory has its name.
  std::filesystem::create_directory(path.string() + ".tmp");
  const absl::Status status = WriteFileAtomically(path, "new");
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Mentions(status, path.string() + ".tmp")) << status;
  EXPECT_EQ(ReadFileToString(path).value_or(""), "old");
}

TEST_F(StateIoTest, FailedRenameRemovesTheTemporaryFile) {
  // A directory cannot be replaced by a file.
  const std::filesystem::path path = dir_ / "occupied";
  std::filesystem::create_directories(path / "inside");
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(Mentions(status, "cannot rename")) << status;
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(path / "inside"));
}

}  // namespace
}  // namespace phc::daemon
