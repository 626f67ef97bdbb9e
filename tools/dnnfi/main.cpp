// dnnfi: fault injection for DNN inference. Every error that is the input's fault prints one line
// "dnnfi: error: ..." and exits 2.
#include <cstdio>
#include <exception>
#include <map>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"dnnfi - fault injection for deep-neural-network inference", "dnnfi"};
  app.require_subcommand(1);
  app.set_version_flag("--version", DNNFI_VERSION);
  std::map<CLI::App*, dnnfi::cli::Command> commands;
  auto add = [&](dnnfi::cli::Command (*fn)(CLI::App&)) {
    const std::size_t before = app.get_subcommands({}).size();
    dnnfi::cli::Command cmd = fn(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) commands[subs.back()] = std::move(cmd);
  };
  add(dnnfi::cli::add_inspect);
  add(dnnfi::cli::add_run);
  add(dnnfi::cli::add_inject);
  add(dnnfi::cli::add_campaign);
  add(dnnfi::cli::add_summary);
  add(dnnfi::cli::add_export);
  add(dnnfi::cli::add_merge);
  add(dnnfi::cli::add_replay);
  add(dnnfi::cli::add_report);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dnnfi: error: %s\n", e.what());
    return 2;
  }
  try {
    for (auto& [sub, cmd] : commands) {
      if (sub->parsed()) return cmd();
    }
    return 2;
  } catch (const dnnfi::Error& e) {
    std::fprintf(stderr, "dnnfi: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dnnfi: error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dnnfi: error: %s\n", e.what());
    return 2;
  }
}
