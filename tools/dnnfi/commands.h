// Subcommands of the dnnfi CLI (cmd_*.cpp; the results commands share cmd_results.cpp). Each
// `add_*` registers its options on the app and returns a handle the dispatcher calls when that
// subcommand was chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace dnnfi {
class MpiWorld;
}

namespace dnnfi::cli {

using Command = std::function<int()>;

// The MPI job this process belongs to, or nullptr when no MPI launcher started it (or dnnfi was
// built without MPI).
MpiWorld* mpi_world();

Command add_inspect(CLI::App& app);
Command add_run(CLI::App& app);
Command add_inject(CLI::App& app);
Command add_campaign(CLI::App& app);
Command add_summary(CLI::App& app);
Command add_export(CLI::App& app);
Command add_merge(CLI::App& app);
Command add_replay(CLI::App& app);
Command add_report(CLI::App& app);  // cmd_report.cpp

}  // namespace dnnfi::cli
