#include "core/log.h"

#include <cstdio>
#include <mutex>
#include <utility>

namespace dnnfi {

namespace {

std::mutex& log_mutex() {
  static std::mutex mu;
  return mu;
}

LogSink& log_sink() {
  static LogSink sink;
  return sink;
}

}  // namespace

LogSink set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(log_mutex());
  return std::exchange(log_sink(), std::move(sink));
}

void log_warning(const std::string& message) {
  std::lock_guard<std::mutex> lock(log_mutex());
  if (log_sink()) {
    log_sink()(LogLevel::kWarning, message);
    return;
  }
  std::fprintf(stderr, "dnnfi: warning: %s\n", message.c_str());
  std::fflush(stderr);
}

}  // namespace dnnfi
