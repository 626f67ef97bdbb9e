#include "report/svg_export.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

extern char** environ;

namespace dnnfi {

namespace {

namespace fs = std::filesystem;

// file:// URL of an absolute path, every byte outside the unreserved set percent-encoded.
std::string file_url(const fs::path& path) {
  std::string url = "file://";
  for (unsigned char c : path.string()) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == '~') {
      url += static_cast<char>(c);
    } else {
      url += fmt::format("%{:02X}", c);
    }
  }
  return url;
}

// Runs `args` with stdout into `stdout_path` and stderr discarded; returns the exit status
// (-1: it could not be started, errno set).
int run_to_file(const std::vector<std::string>& args, const std::string& stdout_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The text of an element as Chromium serializes it: &amp; &lt; &gt; &quot; and &nbsp; escaped.
std::string unescape_text(std::string_view s) {
  static const std::pair<std::string_view, std::string_view> kEntities[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&nbsp;", "\xC2\xA0"}};
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [entity, text] : kEntities) {
        if (s.substr(i, entity.size()) == entity) {
          out += text;
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += s[i++];
  }
  return out;
}

// The text of the first element whose start tag contains `marker`, from `from`; npos if none.
std::size_t element_text(const std::string& dom, std::string_view marker, std::size_t from,
                         std::string* tag, std::string* text) {
  const std::size_t at = dom.find(marker, from);
  if (at == std::string::npos) return at;
  const std::size_t open = dom.rfind('<', at);
  const std::size_t start = dom.find('>', at);
  const std::size_t end = start == std::string::npos ? start : dom.find("</pre>", start);
  if (open == std::string::npos || end == std::string::npos) return std::string::npos;
  *tag = dom.substr(open, start - open);
  *text = unescape_text(std::string_view(dom).substr(start + 1, end - start - 1));
  return end;
}

std::string attribute(const std::string& tag, const std::string& name) {
  const std::string key = name + "=\"";
  const std::size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const std::size_t end = tag.find('"', at + key.size());
  return unescape_text(tag.substr(at + key.size(), end - at - key.size()));
}

void write_file(const fs::path& path, const std::string& text) {
  const std::string tmp = path.string() + ".part";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f) {
      const std::string why = std::strerror(errno);
      std::error_code ec;
      fs::remove(tmp, ec);
      throw InputError(path.string() + ": cannot write (" + why + ")");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw InputError(path.string() + ": cannot write (" + ec.message() + ")");
}

}  // namespace

std::vector<std::string> export_report_svgs(const std::string& report_path,
                                            const std::string& out_dir,
                                            const std::string& chromium) {
  std::error_code ec;
  const fs::path report = fs::absolute(report_path, ec);
  if (ec || !fs::is_regular_file(report, ec)) throw InputError(report_path + ": no such report");
  fs::create_directories(out_dir, ec);
  if (ec) throw InputError(out_dir + ": cannot create (" + ec.message() + ")");
  const std::string dump = (fs::path(out_dir) / fmt::format(".dom.{}.part", ::getpid())).string();
  std::vector<std::string> args = {chromium,        "--headless",
                                   "--disable-gpu", "--virtual-time-budget=30000",
                                   "--dump-dom",    file_url(report) + "#svg"};
  // As root, Chromium runs only without its sandbox (the page is ours and loads nothing).
  if (::geteuid() == 0) args.insert(args.begin() + 1, "--no-sandbox");
  const int rc = run_to_file(args, dump);
  const std::string why = rc < 0 ? std::strerror(errno) : fmt::format("exit status {}", rc);
  std::string dom;
  {
    std::ifstream f(dump, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    dom = ss.str();
  }
  fs::remove(dump, ec);
  if (rc != 0) {
    throw InputError(chromium + ": cannot render " + report_path + " (" + why +
                     "); install Debian's chromium or name the browser with --chromium");
  }
  std::string tag, text;
  if (element_text(dom, "id=\"dnnfi-status\"", 0, &tag, &text) == std::string::npos) {
    throw InputError(report_path + ": not a dnnfi report (no status element)");
  }
  const auto status = nlohmann::json::parse(text, nullptr, false);
  if (status.is_discarded() || !status.value("done", false) || !status["errors"].empty()) {
    throw InputError(report_path + ": the page did not render in " + chromium + ": " +
                     (status.is_discarded() ? text : status["errors"].dump()));
  }
  std::vector<std::string> written;
  for (std::size_t at = 0;
       (at = element_text(dom, "class=\"svg-export\"", at, &tag, &text)) != std::string::npos;) {
    const std::string id = attribute(tag, "data-plot");
    if (id.empty() || id.find_first_of("/\\.") != std::string::npos) continue;
    const fs::path path = fs::path(out_dir) / (id + ".svg");
    write_file(path, text);
    written.push_back(path.string());
  }
  if (written.empty()) throw InputError(report_path + ": the page exported no SVG");
  return written;
}

}  // namespace dnnfi
