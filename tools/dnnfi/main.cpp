// dnnfi: fault injection for DNN inference. Every error that is the input's fault prints one line
// "dnnfi: error: ..." and exits 2. Started by an MPI launcher, the process joins the MPI job
// first; only `dnnfi campaign` runs on several ranks.
#include <cstdio>
#include <exception>
#include <map>
#include <memory>

#include "commands.h"
#include "core/error.h"
#ifdef DNNFI_HAVE_MPI
#include "mpi/mpi_world.h"
#endif

namespace dnnfi::cli {
namespace {
MpiWorld* g_mpi = nullptr;
}
MpiWorld* mpi_world() { return g_mpi; }
}  // namespace dnnfi::cli

namespace {

int run_cli(int argc, char** argv, bool print_usage_errors) {
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
    if (print_usage_errors) std::fprintf(stderr, "dnnfi: error: %s\n", e.what());
    return 2;
  }
  try {
    for (auto& [sub, cmd] : commands) {
      if (!sub->parsed()) continue;
#ifdef DNNFI_HAVE_MPI
      if (const dnnfi::MpiWorld* mpi = dnnfi::cli::mpi_world();
          mpi != nullptr && mpi->size() > 1 && sub->get_name() != "campaign") {
        if (mpi->rank() != 0) return 2;
        throw dnnfi::InputError("only `dnnfi campaign` runs on several MPI ranks; start `dnnfi " +
                                sub->get_name() + "` without mpirun");
      }
#endif
      return cmd();
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

}  // namespace

int main(int argc, char** argv) {
#ifdef DNNFI_HAVE_MPI
  std::unique_ptr<dnnfi::MpiWorld> mpi;
  if (dnnfi::MpiWorld::launched()) {
    try {
      mpi = std::make_unique<dnnfi::MpiWorld>(&argc, &argv);
    } catch (const dnnfi::Error& e) {
      std::fprintf(stderr, "dnnfi: error: %s\n", e.what());
      return 2;
    }
    dnnfi::cli::g_mpi = mpi.get();
  }
  // Every rank parses the same command line; one report of a usage error is enough.
  const int status = run_cli(argc, argv, mpi == nullptr || mpi->rank() == 0);
  dnnfi::cli::g_mpi = nullptr;
  return status;  // after MPI_Finalize (mpi's destructor)
#else
  return run_cli(argc, argv, true);
#endif
}
