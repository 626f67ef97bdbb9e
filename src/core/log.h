// The library's one logging place. The library never prints to stdout; what it has to tell a
// user that is not an error (an input that looks wrong, a result that looks implausible) goes
// through log_warning, which by default writes one line "dnnfi: warning: <message>" to stderr.
// A program (the CLI, a test) can route the lines elsewhere with set_log_sink.
#pragma once

#include <functional>
#include <string>

namespace dnnfi {

enum class LogLevel { kWarning };

using LogSink = std::function<void(LogLevel, const std::string&)>;

// Replaces the sink and returns the previous one; an empty sink restores the default (stderr).
// Thread-safe, as is logging; the sink is called under a lock, one message at a time.
LogSink set_log_sink(LogSink sink);

// One message, one line (no trailing newline).
void log_warning(const std::string& message);

}  // namespace dnnfi
