#include "keras/h5_sandbox.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "core/error.h"

namespace dnnfi::keras {

namespace {

// The child's message: one status byte (0: contents follow, 1: an error message follows), then
// length-prefixed fields.
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  bool ok() const { return ok_; }
  void bytes(const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    while (ok_ && n > 0) {
      const ssize_t w = ::write(fd_, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ok_ = false;
        return;
      }
      c += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void u64(std::uint64_t v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }

 private:
  int fd_;
  bool ok_ = true;
};

class Reader {
 public:
  Reader(int fd, std::chrono::steady_clock::time_point deadline) : fd_(fd), deadline_(deadline) {}
  // False at the end of the data (or past the deadline) before n bytes.
  bool bytes(void* p, std::size_t n) {
    auto* c = static_cast<char*>(p);
    std::size_t got = 0;
    while (got < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      pollfd pfd{fd_, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        timed_out_ = ready == 0;
        return false;
      }
      const ssize_t r = ::read(fd_, c + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }
  void need(void* p, std::size_t n) {
    if (!bytes(p, n)) throw Truncated();
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    need(&v, sizeof v);
    return v;
  }
  std::string str() {
    std::string s(static_cast<std::size_t>(u64()), '\0');
    need(s.data(), s.size());
    return s;
  }
  bool timed_out() const { return timed_out_; }
  struct Truncated {};

 private:
  int fd_;
  std::chrono::steady_clock::time_point deadline_;
  bool timed_out_ = false;
};

void write_contents(Writer& w, const H5Contents& c) {
  w.str(c.config);
  w.u64(c.weights.by_class_path ? 1 : 0);
  w.u64(c.weights.layers.size());
  for (const auto& [layer, list] : c.weights.layers) {
    w.str(layer);
    w.u64(list.size());
    for (const NamedWeight& nw : list) {
      w.str(nw.name);
      w.u64(static_cast<std::uint64_t>(nw.value.dtype()));
      w.u64(nw.value.shape().size());
      for (std::int64_t d : nw.value.shape()) w.u64(static_cast<std::uint64_t>(d));
      w.bytes(nw.value.raw(), nw.value.nbytes());
    }
  }
}

H5Contents read_contents(Reader& r) {
  H5Contents c;
  c.config = r.str();
  c.weights.by_class_path = r.u64() != 0;
  const std::uint64_t layers = r.u64();
  for (std::uint64_t l = 0; l < layers; ++l) {
    auto& list = c.weights.layers[r.str()];
    const std::uint64_t n = r.u64();
    for (std::uint64_t i = 0; i < n; ++i) {
      NamedWeight nw;
      nw.name = r.str();
      const auto dtype = static_cast<DType>(r.u64());
      Shape shape(static_cast<std::size_t>(r.u64()));
      for (auto& d : shape) d = static_cast<std::int64_t>(r.u64());
      nw.value = Tensor(dtype, shape);
      r.need(nw.value.raw(), nw.value.nbytes());
      list.push_back(std::move(nw));
    }
  }
  return c;
}

[[noreturn]] void child_main(int fd, const std::function<H5Contents()>& read) {
  Writer w(fd);
  std::uint8_t status = 1;
  try {
    const H5Contents c = read();
    status = 0;
    w.bytes(&status, 1);
    write_contents(w, c);
  } catch (const std::exception& e) {
    w.bytes(&status, 1);
    w.str(e.what());
  }
  // _exit: the child must not run the parent's atexit handlers or flush its stdio buffers.
  _exit(w.ok() ? 0 : 3);
}

}  // namespace

H5Contents read_h5_sandboxed(const std::string& what, std::uint64_t file_bytes,
                             const std::function<H5Contents()>& read) {
  if (const char* e = std::getenv("DNNFI_H5_IN_PROCESS");
      e != nullptr && std::strcmp(e, "1") == 0) {
    return read();
  }
  int fds[2];
  if (::pipe(fds) != 0) throw LoadError(what + ": cannot start the HDF5 reader (pipe failed)");
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw LoadError(what + ": cannot start the HDF5 reader (fork failed)");
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], read);
  }
  ::close(fds[1]);
  H5Contents contents;
  std::string error;
  bool complete = false;
  // libhdf5 can also loop forever on a malformed file: the child gets 10 s plus 1 s per 10 MB.
  const auto limit = std::chrono::seconds(10 + file_bytes / 10'000'000);
  Reader r(fds[0], std::chrono::steady_clock::now() + limit);
  try {
    std::uint8_t status = 2;
    if (r.bytes(&status, 1)) {
      if (status == 0) {
        contents = read_contents(r);
        complete = true;
      } else {
        error = r.str();
      }
    }
  } catch (const Reader::Truncated&) {
  }
  ::close(fds[0]);
  if (r.timed_out()) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!error.empty()) throw LoadError(error);
  if (complete && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return contents;
  std::string how = "it stopped early";
  if (r.timed_out()) {
    throw LoadError(what + ": corrupt HDF5 file (the HDF5 library did not finish reading it in " +
                    std::to_string(limit.count()) + " s)");
  }
  if (WIFSIGNALED(wstatus)) {
    how = std::string("signal ") + std::to_string(WTERMSIG(wstatus)) + ", " +
          ::strsignal(WTERMSIG(wstatus));
  } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
    how = "exit status " + std::to_string(WEXITSTATUS(wstatus));
  }
  throw LoadError(what + ": corrupt HDF5 file (the HDF5 library crashed reading it: " + how + ")");
}

}  // namespace dnnfi::keras
