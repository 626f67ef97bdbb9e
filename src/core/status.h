// Run-time result of a kernel or a run: free when OK (a null pointer), a message otherwise.
// Setup code throws dnnfi::Error instead (see core/error.h); run-time code never throws.
#pragma once

#include <memory>
#include <string>

namespace dnnfi {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.message_ = std::make_shared<const std::string>(std::move(message));
    return s;
  }
  bool is_ok() const { return message_ == nullptr; }
  explicit operator bool() const { return is_ok(); }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

 private:
  std::shared_ptr<const std::string> message_;
};

// Propagates a non-OK status to the caller.
#define DNNFI_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::dnnfi::Status dnnfi_status_ = (expr);           \
    if (!dnnfi_status_.is_ok()) return dnnfi_status_; \
  } while (0)

}  // namespace dnnfi
